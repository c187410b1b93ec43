"""RAVDESS (Ryerson Audio-Visual Database of Emotional Speech and Song) reader, speech part,
audio-only, following ``shared/data/PROTOCOL.md``.

File ``Actor_AA/03-01-EE-II-SS-RR-AA.flac`` (the shared 16 kHz copy; the original release's
48 kHz ``.wav`` files, same names, are read too): modality ``03`` (audio-only), vocal channel
``01`` (speech), emotion ``EE``, intensity ``II``, statement ``SS``, repetition ``RR``, actor
``AA``. Everything is taken from the file name, never the folder. Labels: emotion, plus
arousal/valence/dominance levels from the emotion (the PROTOCOL table, ``tasks.EMOTION_LEVELS``);
calm and surprise have no level, so only their emotion label. Intensity (normal, strong) is
never a label (:func:`intensity_of` reads it). Transcript: the statement, one of two sentences.

Licence: CC BY-NC-SA 4.0; a model trained on it names that licence in its card (PROTOCOL).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from kerasser.data.corpora.utterance import CorpusError, Utterance, label_indices, require_dir
from kerasser.tasks import EMOTION_LEVELS

# Emotion code -> emotion class name (tasks.EMOTION): happy, sad, angry, fearful, surprised
# renamed to the project's classes (PROTOCOL).
EMOTIONS = {
    "01": "neutral",
    "02": "calm",
    "03": "happiness",
    "04": "sadness",
    "05": "anger",
    "06": "fear",
    "07": "disgust",
    "08": "surprise",
}

# Intensity code -> name; not a label (PROTOCOL), see intensity_of.
INTENSITIES = {"01": "normal", "02": "strong"}

# The two statements, by statement code.
TRANSCRIPTS = {
    "01": "Kids are talking by the door.",
    "02": "Dogs are sitting by the door.",
}

# Speaker-independent split (PROTOCOL; each part half male (odd), half female (even)).
SPLIT_SPEAKERS = {
    "train": tuple(f"{a:02d}" for a in range(1, 17)),
    "dev": ("17", "18", "19", "20"),
    "test": ("21", "22", "23", "24"),
}
SPEAKER_SPLIT = {spk: split for split, spks in SPLIT_SPEAKERS.items() for spk in spks}

# PROTOCOL's cross-validation: 6 speaker-grouped folds of 4 actors (01-04, 05-08, ..., 21-24).
PROTOCOL_FOLDS = tuple(tuple(f"{a:02d}" for a in range(first, first + 4)) for first in range(1, 25, 4))

_NAME = re.compile(
    r"^(?P<modality>\d\d)-(?P<channel>\d\d)-(?P<emotion>\d\d)-(?P<intensity>\d\d)-"
    r"(?P<statement>\d\d)-(?P<repetition>\d\d)-(?P<actor>\d\d)\.(?:flac|wav)$"
)
_EXPECTED = "expected 03-01-EE-II-SS-RR-AA.flac or .wav"


def read_ravdess(root: str | os.PathLike) -> list[Utterance]:
    """All RAVDESS speech utterances under ``root`` (the folder holding ``Actor_01`` .. ``Actor_24``,
    searched recursively for .flac and .wav files), sorted by path."""
    base = require_dir(root, "RAVDESS")
    files = sorted([*base.rglob("*.flac"), *base.rglob("*.wav")])
    if not files:
        raise CorpusError(base, "no RAVDESS audio found (expected Actor_*/03-01-*.flac or .wav)")
    utterances, seen = [], {}
    for f in files:
        u = _utterance(f)
        stem = f.stem
        if stem in seen:
            raise CorpusError(f, f"the same RAVDESS utterance as {seen[stem]} (keep one copy: .flac or .wav)")
        seen[stem] = f
        utterances.append(u)
    return utterances


def split_of(speaker: str) -> str:
    """PROTOCOL split of a RAVDESS actor id (``"21"`` -> ``"test"``)."""
    return SPEAKER_SPLIT[speaker]


def intensity_of(path: str | os.PathLike) -> str:
    """``"normal"`` or ``"strong"``: the emotional intensity in a RAVDESS file name (not a label)."""
    return INTENSITIES[_fields(Path(path))["intensity"]]


def _fields(path: Path) -> dict[str, str]:
    """The name's fields, checked; CorpusError naming ``path`` otherwise."""
    m = _NAME.match(path.name)
    if m is None:
        raise CorpusError(path, f"not a RAVDESS file name ({_EXPECTED})")
    if m["modality"] != "03":
        raise CorpusError(path, f"RAVDESS modality {m['modality']} is not audio-only (03); {_EXPECTED}")
    if m["channel"] != "01":
        raise CorpusError(path, f"RAVDESS vocal channel {m['channel']} is not speech (01; 02 is song); {_EXPECTED}")
    checks = (
        ("emotion", EMOTIONS),
        ("intensity", INTENSITIES),
        ("statement", TRANSCRIPTS),
        ("repetition", ("01", "02")),
        ("actor", SPEAKER_SPLIT),
    )
    for field, known in checks:
        if m[field] not in known:
            raise CorpusError(path, f"unknown RAVDESS {field} {m[field]!r}; expected one of {', '.join(sorted(known))}")
    return m.groupdict()


def _utterance(path: Path) -> Utterance:
    fields = _fields(path)
    emotion = EMOTIONS[fields["emotion"]]
    names = {"emotion": emotion}
    if emotion in EMOTION_LEVELS:  # calm and surprise have no level (PROTOCOL)
        arousal, valence, dominance = EMOTION_LEVELS[emotion]
        names.update(arousal=arousal, valence=valence, dominance=dominance)
    speaker = fields["actor"]
    return Utterance(
        path=str(path),
        speaker=speaker,
        split=SPEAKER_SPLIT[speaker],
        labels=label_indices(names),
        transcript=TRANSCRIPTS[fields["statement"]],
        corpus="ravdess",
    )
