"""Prediction tasks: the one source for head names, loss keys, class names and CSV columns.

Every task is a softmax over a fixed, ordered tuple of classes. Labels travel through the
package as class indices into ``TaskSpec.classes``; an utterance that has no label for a task
simply lacks that key (its loss is masked with sample weight 0 during training).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from kerasser.errors import SettingsError

LEVELS = ("low", "mid", "high")


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """One prediction task: ``name`` is the head/output name, ``letter`` the CLI short form."""

    name: str
    letter: str
    classes: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def index(self, class_name: str) -> int:
        """Class index of ``class_name`` (case-insensitive); ValueError names the task."""
        key = class_name.strip().lower()
        for i, c in enumerate(self.classes):
            if c == key:
                return i
        raise SettingsError(f"unknown {self.name} class {class_name!r}; expected one of {', '.join(self.classes)}")


AROUSAL = TaskSpec("arousal", "a", LEVELS)
VALENCE = TaskSpec("valence", "v", LEVELS)
DOMINANCE = TaskSpec("dominance", "d", LEVELS)
# The emotion vocabulary: every class a corpus may label (an Utterance's emotion label indexes
# this). EmoDB's seven first, in the order the first models' heads used; then RAVDESS' calm and
# surprise. A model's emotion head covers the classes its training corpora use
# (``ModelConfig.emotion_classes``, ``kerasser.data.label_space``), not necessarily all of these.
EMOTION = TaskSpec(
    "emotion", "e", ("anger", "boredom", "disgust", "fear", "happiness", "sadness", "neutral", "calm", "surprise")
)
# The head of every model from before the vocabulary grew (ModelConfig.emotion_classes' default).
EMODB_EMOTIONS = EMOTION.classes[:7]
# PROTOCOL.md's cross-corpus comparison: the 4-class balanced UAR over these (EmoBox's common classes).
COMMON_EMOTIONS = ("anger", "happiness", "sadness", "neutral")

TASKS: dict[str, TaskSpec] = {t.name: t for t in (AROUSAL, VALENCE, DOMINANCE, EMOTION)}

# PROTOCOL.md's emotion -> (arousal, valence, dominance) levels (after Russell & Mehrabian, 1977):
# EmoDB's and RAVDESS' dimension labels, and what a model reads off its emotion head
# (ModelConfig.derived_tasks). Calm and surprise have no level (PROTOCOL.md).
EMOTION_LEVELS: dict[str, tuple[str, str, str]] = {
    "anger": ("high", "low", "high"),
    "boredom": ("low", "low", "low"),
    "disgust": ("high", "low", "mid"),
    "fear": ("high", "low", "low"),
    "happiness": ("high", "high", "high"),
    "sadness": ("low", "low", "low"),
    "neutral": ("mid", "mid", "mid"),
}
DIMENSIONS = (AROUSAL.name, VALENCE.name, DOMINANCE.name)


def emotion_groups(task: str, classes: tuple[str, ...] = EMODB_EMOTIONS) -> tuple[int, ...]:
    """The level index of each emotion class of ``classes`` (a model's emotion head, by default the
    first models' seven) for a dimension task; -1 for a class without a level (calm, surprise)."""
    if task not in DIMENSIONS:
        raise SettingsError(f"only {', '.join(DIMENSIONS)} have levels per emotion, not {task!r}")
    d = DIMENSIONS.index(task)
    return tuple(LEVELS.index(EMOTION_LEVELS[e][d]) if e in EMOTION_LEVELS else -1 for e in classes)

# Not a task: the output and label key of the speaker-adversarial head (training only).
SPEAKER_TARGET = "speaker"
TRANSCRIPT_TARGET = "transcript"  # the CTC auxiliary head's output: per-step characters
_BY_LETTER = {t.letter: t for t in TASKS.values()}


def get_task(key: str) -> TaskSpec:
    """Task by name (``arousal``) or letter (``a``)."""
    k = key.strip().lower()
    if k in TASKS:
        return TASKS[k]
    if k in _BY_LETTER:
        return _BY_LETTER[k]
    raise SettingsError(f"unknown task {key!r}; expected one of {', '.join(f'{t.letter} ({t.name})' for t in TASKS.values())}")


def parse_tasks(spec: str | list[str] | tuple[str, ...]) -> tuple[TaskSpec, ...]:
    """``"a,v,d"`` or ``["arousal", "valence"]`` -> task specs in the given order, no duplicates."""
    parts = spec.split(",") if isinstance(spec, str) else list(spec)
    tasks = tuple(get_task(p) for p in parts if p.strip())
    if not tasks:
        raise SettingsError("no task given")
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise SettingsError(f"task listed twice in {spec!r}")
    return tasks


def level_from_rating(rating: float) -> int:
    """IEMOCAP 5-point rating -> level index: low [1, 2], mid (2, 4), high [4, 5]."""
    if rating <= 2.0:
        return 0
    if rating >= 4.0:
        return 2
    return 1


def vocabulary_indices(task: str, columns, head_classes: Sequence[str] | None) -> np.ndarray:
    """Head columns -> vocabulary indices of ``task`` (``head_classes``: the head's classes; None:
    the vocabulary itself)."""
    columns = np.asarray(columns, int)
    if head_classes is None:
        return columns
    vocabulary = TASKS[task].classes
    return np.asarray([vocabulary.index(c) for c in head_classes], int)[columns]
