"""Cross-validation folds: which speakers each fold tests, picks its epoch on, and trains on.

Speakers are ``speaker_key`` strings (``"emodb:03"``), so corpora never collide. Kinds:
leave-one-speaker-out, K speaker-grouped folds, PROTOCOL.md's groups of a corpus, and
leave-one-corpus-out (``corpus_folds``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from kerasser.data.corpora import Utterance, speaker_key
from kerasser.errors import DataError, SettingsError


@dataclasses.dataclass(frozen=True)
class Fold:
    name: str
    test: tuple[str, ...]
    dev: tuple[str, ...]
    train: tuple[str, ...]

    def speaker_splits(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return (("train", self.train), ("dev", self.dev), ("test", self.test))


FOLD_KINDS = ("loso", "protocol", "corpus")  # besides a number K of speaker-grouped folds


def protocol_groups(all_speakers: Sequence[str]) -> list[list[str]]:
    """The speaker groups PROTOCOL.md gives for cross-validation (RAVDESS: 6 groups of 4 actors),
    of one corpus; SettingsError for a corpus without them or for several corpora."""
    from kerasser.data.corpora import PROTOCOL_FOLDS

    corpora = sorted({s.split(":", 1)[0] for s in all_speakers})
    if len(corpora) != 1 or corpora[0] not in PROTOCOL_FOLDS:
        have = ", ".join(PROTOCOL_FOLDS)
        raise SettingsError(f"protocol folds are defined for one corpus of {have}, not {', '.join(corpora)}")
    groups = [sorted(f"{corpora[0]}:{spk}" for spk in group) for group in PROTOCOL_FOLDS[corpora[0]]]
    return [g for g in (sorted(set(g) & set(all_speakers)) for g in groups) if g]


def corpus_folds(utterances: Sequence[Utterance]) -> list[Fold]:
    """Leave one corpus out: per corpus, a fold whose test speakers are all of that corpus'
    speakers, and which trains and picks its epoch on the other corpora's own train and dev
    splits (their test speakers are left out, so the fold's model can also be scored on their
    test splits in-corpus)."""
    corpora = sorted({u.corpus for u in utterances})
    if len(corpora) < 2:
        raise SettingsError(f"leave-one-corpus-out needs two or more corpora, not {', '.join(corpora)}")
    result = []
    for held_out in corpora:
        by_split: dict[str | None, set[str]] = {"train": set(), "dev": set(), "test": set()}
        for u in utterances:
            split = "test" if u.corpus == held_out else u.split
            if split in ("train", "dev") or u.corpus == held_out:
                by_split[split].add(speaker_key(u))
        if not by_split["train"]:
            raise DataError(f"no training speakers besides {held_out}: the other corpora have no train split")
        result.append(Fold(held_out, *(tuple(sorted(by_split[k])) for k in ("test", "dev", "train"))))
    return result


def make_folds(all_speakers: Sequence[str], folds: str | int, dev_speakers: int, seed: int) -> list[Fold]:
    """``folds="loso"``: one fold per speaker; ``"protocol"``: PROTOCOL.md's speaker groups of the
    corpus (``protocol_groups``); an int K: K groups of speakers (sorted, dealt in turn after a
    seeded shuffle). Each fold's dev speakers are ``dev_speakers`` drawn (seeded) from the rest;
    the remaining speakers train. (Leave-one-corpus-out folds: ``corpus_folds``.)"""
    spk = sorted(all_speakers)
    rng = np.random.default_rng(seed)
    if folds == "loso":
        groups = [[s] for s in spk]
    elif folds == "protocol":
        groups = protocol_groups(spk)
    else:
        k = int(folds)
        if not 2 <= k <= len(spk):
            raise SettingsError(f"{k} folds need 2 to {len(spk)} (the number of speakers)")
        order = list(rng.permutation(spk))
        groups = [sorted(order[i::k]) for i in range(k)]
    if len(spk) - max(len(g) for g in groups) < dev_speakers + 1:
        raise SettingsError(f"{len(spk)} speakers are too few for a test fold, {dev_speakers} dev speakers and training")
    result = []
    for i, test in enumerate(groups):
        rest = [s for s in spk if s not in test]
        dev = sorted(rng.choice(rest, size=dev_speakers, replace=False).tolist()) if dev_speakers else []
        train = [s for s in rest if s not in dev]
        name = test[0].split(":", 1)[1] if folds == "loso" else str(i + 1)
        result.append(Fold(name, tuple(test), tuple(dev), tuple(train)))
    return result
