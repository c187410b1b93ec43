"""Export a trained run for deployment: Keras, SavedModel and TFLite (float32 and quantised).

``export_run(run_dir, out, quantize=(), name=None)`` writes one export folder (see
``kerasser.export.exporter`` for the layout and ``kerasser.export.metadata`` for metadata.json);
``kerasser.inference`` loads it. Importing this package does not import TensorFlow: the names
below load on first use, so the TensorFlow-free runtime can read the metadata constants.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "ExportError": "kerasser.export.exporter",
    "ExportResult": "kerasser.export.exporter",
    "export_run": "kerasser.export.exporter",
    "export_saved_model": "kerasser.export.saved_model",
    "export_tflite": "kerasser.export.tflite",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kerasser.export' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
