"""The record every corpus reader returns, the error they raise, and small shared helpers."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from kerasser.errors import CorpusError
from kerasser.tasks import TASKS

SPLITS = ("train", "dev", "test")


@dataclasses.dataclass(frozen=True)
class Utterance:
    """One labelled audio file.

    ``labels`` maps a task name (``tasks.TASKS``) to a class index into that task's ``classes``;
    a task without a label is simply absent. ``split`` is ``"train"``, ``"dev"``, ``"test"`` or
    ``None``. Utterances hash by everything but ``labels``.
    """

    path: str
    speaker: str
    split: str | None
    labels: Mapping[str, int] = dataclasses.field(hash=False)
    transcript: str | None = None
    corpus: str = ""
    # share of listeners who recognised the intended emotion, 0..1 (EmoDB's erkennung.txt); None: unknown
    agreement: float | None = dataclasses.field(default=None, hash=False)
    # (prepared folder, key) for an utterance of a prepared TFRecord folder (``kerasser prepare``):
    # its samples are read from there, ``path`` only names the file they came from
    record: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if self.split is not None and self.split not in SPLITS:
            raise CorpusError(self.path, f"split must be one of {', '.join(SPLITS)} or None, got {self.split!r}")
        for task, index in self.labels.items():
            if task not in TASKS:
                raise CorpusError(self.path, f"unknown task {task!r} in labels")
            if not 0 <= index < TASKS[task].num_classes:
                raise CorpusError(self.path, f"{task} label {index} out of range")
        object.__setattr__(self, "labels", dict(self.labels))


def require_dir(path: str | os.PathLike, what: str) -> Path:
    """``path`` as an absolute Path; CorpusError if it is missing or not a folder."""
    p = Path(path).expanduser().absolute()
    if not p.exists():
        raise CorpusError(p, f"no such {what} folder")
    if not p.is_dir():
        raise CorpusError(p, f"not a folder (expected the {what} folder)")
    return p


def label_indices(class_names: Mapping[str, str]) -> dict[str, int]:
    """``{"arousal": "high", "emotion": "fear"}`` -> ``{"arousal": 2, "emotion": 3}`` (ValueError if unknown)."""
    return {task: TASKS[task].index(name) for task, name in class_names.items()}
