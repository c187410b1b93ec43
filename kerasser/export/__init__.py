"""Export a trained run for deployment: Keras, SavedModel and TFLite (float32 and quantised).

``export_run(run_dir, out, quantize=(), name=None)`` writes one export folder; its layout and
serving contract are ``kerasser.contract``'s, and ``kerasser.inference`` loads it. Importing this
package imports TensorFlow; the TensorFlow-free runtime needs only ``kerasser.contract``.
"""

from __future__ import annotations

from kerasser.errors import ExportError
from kerasser.export.exporter import ExportResult, export_run
from kerasser.export.saved_model import export_saved_model
from kerasser.export.tflite import export_tflite

__all__ = ["ExportError", "ExportResult", "export_run", "export_saved_model", "export_tflite"]
