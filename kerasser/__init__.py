"""kerasser: end-to-end speech emotion recognition from raw waveforms (TensorFlow/Keras).

The small public API. TensorFlow-backed names load on first use, so ``kerasser.data.audio``,
``kerasser.data.corpora`` and ``kerasser.tasks`` stay light to import; ``Labeler`` and ``list_models``
need no TensorFlow, the others ``kerasser[train]`` (a base install says so:
:class:`kerasser.extras.MissingExtraError`).

    labeler = kerasser.Labeler(model="emodb-avde")      # an installed model's name, or a folder
    labeler.process_folder("clips/")                     # pandas DataFrame, index (file, start, end)
    kerasser.list_models()                               # what `kerasser models` shows
"""

from __future__ import annotations

import importlib

from kerasser.tasks import TASKS, TaskSpec

__version__ = "0.1.0"

_LAZY = {
    "AudioConfig": "kerasser.config",
    "ModelConfig": "kerasser.config",
    "TrainConfig": "kerasser.config",
    "build_model": "kerasser.model.network",
    "load_model": "kerasser.serve.keras_model",
    "train": "kerasser.training.loop",
    "evaluate_run": "kerasser.evaluate.run",
    "load_audio": ("kerasser.data.audio", "load"),
    "read_corpus": "kerasser.data.corpora",
    "Labeler": "kerasser.serve.labeling",
    "list_models": "kerasser.serve.model_names",
}

__all__ = ["TASKS", "TaskSpec", *_LAZY]


def __getattr__(name: str):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'kerasser' has no attribute {name!r}")
    module, attr = target if isinstance(target, tuple) else (target, name)
    try:
        value = getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as error:  # a base install: say which extra, not which module
        from kerasser.extras import needing_extra

        raise needing_extra(error, f"kerasser.{name}") from None
    globals()[name] = value
    return value
