"""BAVED (Basic Arabic Vocal Emotions Dataset) reader, following ``shared/data/PROTOCOL.md``.

File ``speaker-gender-age-word-level-record.wav`` (e.g. ``0-m-21-0-1-105.wav``) inside a word
folder ``0``..``6``. Everything is taken from the file name, never the folder (one file,
``0/49-m-23-6-1-201.wav``, sits in the wrong word folder). The level (0 low, 1 neutral, 2 high)
is the only label: the **arousal** task.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from kerasser.data.corpora.utterance import CorpusError, Utterance, require_dir
from kerasser.tasks import LEVELS, TASKS

# Speaker-independent split (PROTOCOL); every other speaker is train.
DEV_SPEAKERS = frozenset({"0", "3", "6", "12", "22", "27", "32", "37", "40", "53", "54", "55"})
TEST_SPEAKERS = frozenset({"2", "7", "8", "13", "23", "28", "33", "38", "42", "50", "51", "100"})

_NAME = re.compile(
    r"^(?P<speaker>\d+)-(?P<gender>[mf])-(?P<age>\d+)-(?P<word>[0-6])-(?P<level>[0-2])-(?P<record>\d+)\.wav$"
)


def read_baved(root: str | os.PathLike) -> list[Utterance]:
    """All BAVED utterances under ``root`` (searched recursively), sorted by path."""
    base = require_dir(root, "BAVED")
    files = sorted(base.rglob("*.wav"))
    if not files:
        raise CorpusError(base, "no BAVED audio found (expected <word>/*.wav)")
    return [_utterance(f) for f in files]


def split_of(speaker: str) -> str:
    """PROTOCOL split of a BAVED speaker id (``"50"`` -> ``"test"``)."""
    if speaker in DEV_SPEAKERS:
        return "dev"
    if speaker in TEST_SPEAKERS:
        return "test"
    return "train"


def _utterance(path: Path) -> Utterance:
    m = _NAME.match(path.name)
    if m is None:
        raise CorpusError(path, "not a BAVED file name (expected speaker-gender-age-word-level-record.wav)")
    speaker = str(int(m["speaker"]))
    level = int(m["level"])
    return Utterance(
        path=str(path),
        speaker=speaker,
        split=split_of(speaker),
        labels={"arousal": TASKS["arousal"].index(LEVELS[level])},
        corpus="baved",
    )
