"""One label space over several corpora: the classes a model's heads cover, and which of them each
corpus can express.

An utterance's labels index the task's vocabulary (``kerasser.tasks.TASKS``; for emotion the nine
classes of ``tasks.EMOTION``). A model's emotion head covers ``ModelConfig.emotion_classes``: the
union of the classes its training corpora label, in vocabulary order (EmoDB alone: its seven;
EmoDB + RAVDESS: all nine). The dimension heads always cover the three levels.

**Classes a corpus cannot express** (EmoDB has no calm, RAVDESS no boredom) are masked in the
loss, not taught as wrong: in training, each emotion target travels with its corpus' class mask
(the label is ``[target, mask]``, 2 x classes wide, see :meth:`LabelSpace.target`), and
``kerasser.model.losses.SparseCrossentropy`` takes the cross-entropy of the head's probabilities
renormalised over the masked classes, ``-log(p_y / sum_{c in corpus} p_c)``. Its gradient with
respect to the logit of a class the corpus lacks is exactly zero, so an EmoDB clip never pushes
"calm" down. Label smoothing spreads over the corpus' own classes only; mixup mixes the masks as
it mixes the targets (a mixed clip may be any class either corpus has). A corpus' classes are the
ones its utterances are labelled with (all of its utterances, not only the training split).

Scores (confusion matrices, per-utterance labels and predictions) are in vocabulary order, so
runs whose heads differ pool and compare; a clip whose emotion the head lacks is still scored
(always wrong: a model that never learned "calm" scores 0 on RAVDESS' calm clips). Scoring on one corpus is over that corpus' own classes (the prediction is the most probable of
them, :func:`restrict`), and across corpora over ``tasks.COMMON_EMOTIONS`` (the 4-class common UAR).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from kerasser.config import TrainConfig, save_json
from kerasser.data.corpora import Utterance
from kerasser.errors import DataError
from kerasser.tasks import EMOTION, TASKS

EMOTION_TASK = EMOTION.name


def labelled_classes(utterances: Sequence[Utterance], task: str = EMOTION_TASK) -> tuple[str, ...]:
    """The classes of ``task`` that ``utterances`` are labelled with, in vocabulary order."""
    used = {u.labels[task] for u in utterances if task in u.labels}
    return tuple(c for i, c in enumerate(TASKS[task].classes) if i in used)


def corpus_classes(utterances: Sequence[Utterance]) -> dict[str, tuple[str, ...]]:
    """Per corpus (``Utterance.corpus``), the emotion classes its utterances are labelled with."""
    by_corpus: dict[str, list[Utterance]] = {}
    for u in utterances:
        by_corpus.setdefault(u.corpus, []).append(u)
    return {corpus: labelled_classes(utts) for corpus, utts in by_corpus.items()}


@dataclasses.dataclass(frozen=True)
class LabelSpace:
    """The emotion head's classes (``emotion_classes``) and, for training, the emotion classes
    of each corpus (``corpora``; empty: no masks, every clip may be any head class)."""

    emotion_classes: tuple[str, ...]
    corpora: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "emotion_classes", tuple(self.emotion_classes))
        object.__setattr__(self, "corpora", {k: tuple(v) for k, v in self.corpora.items()})

    @classmethod
    def for_training(cls, emotion_classes: Sequence[str], utterances: Sequence[Utterance]) -> LabelSpace:
        """The space of a model whose head is ``emotion_classes``, with masks for the corpora of
        ``utterances`` that lack some of them (none when every corpus has them all)."""
        own = corpus_classes(utterances)
        if all(set(emotion_classes) <= set(classes) for classes in own.values() if classes):
            own = {}
        return cls(tuple(emotion_classes), own)

    @property
    def masked(self) -> bool:
        """Whether emotion targets carry a class mask (``[target, mask]``) rather than an index."""
        return bool(self.corpora)

    def classes(self, task: str) -> tuple[str, ...]:
        return self.emotion_classes if task == EMOTION_TASK else TASKS[task].classes

    def head_index(self, task: str, label: int) -> int | None:
        """The head column of vocabulary index ``label``; None when the head lacks that class."""
        if task != EMOTION_TASK:
            return label
        name = EMOTION.classes[label]
        return self.emotion_classes.index(name) if name in self.emotion_classes else None

    def mask(self, corpus: str) -> np.ndarray:
        """[classes] float32: 1 for the emotion head's classes that ``corpus`` labels (all of them
        for a corpus this space has no entry for, or that labels no emotion, as BAVED)."""
        own = self.corpora.get(corpus)
        return np.asarray([not own or c in own for c in self.emotion_classes], np.float32)

    def target(self, corpus: str, index_or_distribution) -> np.ndarray:
        """A masked emotion target: ``[target distribution, class mask]``, 2 x classes wide. A
        distribution (a teacher's, ``kerasser.training.distillation``) keeps only its mass on the corpus'
        classes, renormalised."""
        mask = self.mask(corpus)
        target = np.asarray(index_or_distribution, np.float32)
        if target.ndim == 0:
            target = np.eye(len(self.emotion_classes), dtype=np.float32)[int(index_or_distribution)]
        elif (target * mask).sum() > 0:
            target = target * mask / (target * mask).sum()
        return np.concatenate([target, mask]).astype(np.float32)


def fit_label_space(config: TrainConfig, train_utts: Sequence[Utterance], paths,
                    write: Callable[[str], None]) -> TrainConfig:
    """``config`` with the emotion head covering the emotion classes the training utterances are
    labelled with, saved to the run's config.json (``paths``: its ``RunPaths``) when that changes
    it. A resumed run keeps its head (its weights have that shape): DataError if the data now has
    a class the head lacks."""
    if "emotion" not in config.model.tasks:
        return config
    classes = labelled_classes(train_utts)
    if classes == config.model.emotion_classes:
        return config
    if paths.last_model.exists():
        if set(classes) - set(config.model.emotion_classes):
            raise DataError(f"the training data now has emotion classes the run's head lacks "
                            f"({', '.join(sorted(set(classes) - set(config.model.emotion_classes)))})")
        return config
    write(f"emotion head: {', '.join(classes)}")
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, emotion_classes=classes))
    save_json(config, paths.config)
    return config


def restrict(probabilities: np.ndarray, head_classes: Sequence[str], allowed: Sequence[str]) -> np.ndarray:
    """The predicted class (a column of ``head_classes``) of each row when only ``allowed``
    classes may be predicted: the most probable of them."""
    columns = [i for i, c in enumerate(head_classes) if c in allowed]
    if not columns:
        raise ValueError(f"none of {', '.join(allowed)} is a class of the head ({', '.join(head_classes)})")
    probabilities = np.asarray(probabilities)
    return np.asarray(columns)[np.argmax(probabilities[:, columns], axis=1)]
