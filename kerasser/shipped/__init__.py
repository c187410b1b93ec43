"""The default model inside an installed package.

A wheel or a plain ``pip install .`` carries the serving files of ``exported/<DEFAULT_MODEL>``
(``SHIPPED_FILES``) in this package's ``<DEFAULT_MODEL>/`` folder: ``setup.py``'s ``build_py``
copies them from ``exported/`` (the folder ``kerasser export`` builds the model into) at build
time, so the source tree keeps one copy. A source checkout or an editable install finds
``exported/`` itself (:func:`kerasser.inference.default_model_dir`).
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_MODEL = "emodb-avde"

# What labelling needs (both TFLite variants, the metadata and the card) and what the Keras
# backend loads; the SavedModel stays in exported/ (5 MB more, for TensorFlow Serving users).
SHIPPED_FILES = ("metadata.json", "MODEL_CARD.md", "model.tflite", "model_int8.tflite", "model.keras")


def packaged_model_dir() -> Path:
    """Where an installed package keeps the default model (it may not exist in a source tree)."""
    return Path(__file__).resolve().parent / DEFAULT_MODEL
