"""The models an installed package carries.

A wheel or a plain ``pip install .`` carries the serving files (``SHIPPED_FILES``) of every model
in ``SHIPPED_MODELS`` in this package's ``<name>/`` folders: ``setup.py``'s ``build_py`` copies them
from ``exported/<name>/`` (the folders ``kerasser export`` builds models into) at build time, so the
source tree keeps one copy. A source checkout or an editable install finds ``exported/`` itself.
Names resolve to folders in :mod:`kerasser.serve.model_names`.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_MODEL = "emodb-avde"

# Every model the wheel carries, the default first. The ensemble adds 32 MB to the default's 10 MB
# (the wheel: 38 MB, under PyPI's 100 MB file limit), so it ships in the wheel itself.
SHIPPED_MODELS = ("emodb-avde", "emodb-avde-ensemble")

# What labelling needs (both TFLite variants, the metadata and the card) and what the Keras
# backend loads; the SavedModel stays in exported/ (5 MB more, for TensorFlow Serving users).
SHIPPED_FILES = ("metadata.json", "MODEL_CARD.md", "model.tflite", "model_int8.tflite", "model.keras")


def packaged_models_dir() -> Path:
    """Where an installed package keeps its models, one folder each (none in a source tree)."""
    return Path(__file__).resolve().parent


def packaged_model_dir() -> Path:
    """Where an installed package keeps the default model (it may not exist in a source tree)."""
    return packaged_models_dir() / DEFAULT_MODEL
