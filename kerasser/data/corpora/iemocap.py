"""IEMOCAP reader: ``root`` holds ``Session1`` .. ``Session5`` as released by USC SAIL.

Labels come from ``SessionN/dialog/EmoEvaluation/<dialog>.txt`` (that folder's own files only,
not ``Categorical/``, ``Attribute/`` or ``Self-evaluation/``): per turn the consensus emotion
code and the mean ``[valence, activation, dominance]`` ratings (1-5), cut into levels by
``tasks.level_from_rating``. Emotions ang, hap/exc, sad, neu, fea and dis map to the emotion
classes; fru, sur, oth and xxx (no agreement) leave the emotion label out. Audio is
``SessionN/sentences/wav/<dialog>/<turn>.wav``, transcripts ``SessionN/dialog/transcriptions/<dialog>.txt``.

Split: sessions 1-3 train, 4 dev, 5 test. Speaker: session and gender of the turn's speaker
(``Ses01F_impro01_M000`` -> ``Ses01_M``). Sessions that are absent are skipped.

Turns whose wav file is missing are **kept**: dropping them silently would hide an incomplete
copy, and :func:`kerasser.data.audio.load` reports the missing file when it is read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from kerasser.data.corpora.utterance import CorpusError, Utterance, require_dir
from kerasser.tasks import EMOTION, level_from_rating

SESSION_SPLIT = {1: "train", 2: "train", 3: "train", 4: "dev", 5: "test"}

# EmoEvaluation emotion code -> emotion class; codes missing here get no emotion label.
EMOTIONS = {
    "ang": "anger",
    "hap": "happiness",
    "exc": "happiness",
    "sad": "sadness",
    "neu": "neutral",
    "fea": "fear",
    "dis": "disgust",
}
UNLABELLED = frozenset({"fru", "sur", "oth", "xxx"})

_NUM = r"\d+(?:\.\d*)?"
_TURN = re.compile(
    rf"^\[\s*{_NUM}\s*-\s*{_NUM}\s*\]\s+(?P<turn>Ses\d\d[FM]_\S+_[FM]\d+)\s+(?P<emotion>\w+)\s+"
    rf"\[\s*(?P<val>{_NUM})\s*,\s*(?P<act>{_NUM})\s*,\s*(?P<dom>{_NUM})\s*\]\s*$"
)
_TRANSCRIPT = re.compile(r"^(?P<turn>Ses\d\d[FM]_\S+)\s+\[[\d.]+-[\d.]+\]:\s?(?P<text>.*)$")


def read_iemocap(root: str | os.PathLike) -> list[Utterance]:
    """All evaluated IEMOCAP turns of the sessions present under ``root``, sorted by wav path."""
    base = require_dir(root, "IEMOCAP")
    sessions = [n for n in SESSION_SPLIT if (base / f"Session{n}").is_dir()]
    if not sessions:
        raise CorpusError(base, "no IEMOCAP session folders found (expected Session1 .. Session5)")
    utterances: list[Utterance] = []
    for n in sessions:
        session = base / f"Session{n}"
        eval_dir = session / "dialog" / "EmoEvaluation"
        eval_files = sorted(p for p in eval_dir.glob("*.txt") if p.is_file())
        if not eval_files:
            raise CorpusError(eval_dir, "no IEMOCAP EmoEvaluation .txt files found")
        for eval_file in eval_files:
            transcripts = _read_transcripts(session / "dialog" / "transcriptions" / eval_file.name)
            for turn, emotion, ratings in _read_turns(eval_file):
                utterances.append(_utterance(session, n, turn, emotion, ratings, transcripts.get(turn)))
    return sorted(utterances, key=lambda u: u.path)


def _read_turns(path: Path) -> Iterator[tuple[str, str, tuple[float, float, float]]]:
    """Yield ``(turn, emotion code, (valence, activation, dominance))`` per turn line."""
    for line_no, line in enumerate(_read_lines(path), start=1):
        if not line.startswith("["):
            continue  # header, blank and evaluator lines
        m = _TURN.match(line)
        if m is None:
            raise CorpusError(path, f"unreadable IEMOCAP turn line {line.strip()!r}", line=line_no)
        code = m["emotion"]
        if code not in EMOTIONS and code not in UNLABELLED:
            raise CorpusError(path, f"unknown IEMOCAP emotion code {code!r}", line=line_no)
        yield m["turn"], code, (float(m["val"]), float(m["act"]), float(m["dom"]))


def _read_transcripts(path: Path) -> dict[str, str]:
    """Turn name -> text from one transcription file (lines that do not match are skipped)."""
    if not path.is_file():
        return {}
    found = (_TRANSCRIPT.match(line) for line in _read_lines(path))
    return {m["turn"]: m["text"].strip() for m in found if m}


def _read_lines(path: Path) -> list[str]:
    """Lines of a text file; CorpusError if it cannot be read."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as err:
        raise CorpusError(path, f"cannot read ({err.strerror or err})") from None


def _utterance(
    session: Path, n: int, turn: str, code: str, ratings: tuple[float, float, float], text: str | None
) -> Utterance:
    """One turn as an Utterance (wav path built from the dialog name, which may not exist)."""
    dialog, speaker_part = turn.rsplit("_", 1)
    valence, activation, dominance = ratings
    labels = {
        "arousal": level_from_rating(activation),
        "valence": level_from_rating(valence),
        "dominance": level_from_rating(dominance),
    }
    if code in EMOTIONS:
        labels["emotion"] = EMOTION.index(EMOTIONS[code])
    return Utterance(
        path=str(session / "sentences" / "wav" / dialog / f"{turn}.wav"),
        speaker=f"Ses{n:02d}_{speaker_part[0]}",
        split=SESSION_SPLIT[n],
        labels=labels,
        transcript=text or None,
        corpus="iemocap",
    )
