"""Export a trained run for deployment: Keras, SavedModel and TFLite (float32 and quantised).

``export_run(run_dir, out, quantize=(), name=None)`` writes one export folder; its layout and
serving contract are ``kerasser.contract``'s, and ``kerasser.serve.inference`` loads it. The names below
load on first use and import TensorFlow; ``kerasser.export.metadata`` (metadata.json, and
``refresh_digests``) does not, and the TensorFlow-free runtime needs only ``kerasser.contract``.
"""

from __future__ import annotations

import importlib

from kerasser.errors import ExportError

_LAZY = {
    "ExportResult": "kerasser.export.exporter",
    "export_run": "kerasser.export.exporter",
    "export_saved_model": "kerasser.export.saved_model",
    "export_tflite": "kerasser.export.tflite",
}

__all__ = ["ExportError", *_LAZY]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kerasser.export' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
