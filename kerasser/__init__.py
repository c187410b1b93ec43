"""kerasser: end-to-end speech emotion recognition from raw waveforms (TensorFlow/Keras).

The small public API. TensorFlow-backed names load on first use, so ``kerasser.audio``,
``kerasser.corpora`` and ``kerasser.tasks`` stay light to import.
"""

from __future__ import annotations

import importlib

from kerasser.tasks import TASKS, TaskSpec

__version__ = "0.1.0"

_LAZY = {
    "AudioConfig": "kerasser.config",
    "ModelConfig": "kerasser.config",
    "TrainConfig": "kerasser.config",
    "build_model": "kerasser.model",
    "load_model": "kerasser.model",
    "train": "kerasser.training",
    "evaluate_run": "kerasser.run_evaluation",
    "load_audio": ("kerasser.audio", "load"),
    "read_corpus": "kerasser.corpora",
    "Labeler": "kerasser.labeling",
}

__all__ = ["TASKS", "TaskSpec", *_LAZY]


def __getattr__(name: str):
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'kerasser' has no attribute {name!r}")
    module, attr = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value
