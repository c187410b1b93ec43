"""EmoDB (Berlin Database of Emotional Speech) reader, following ``shared/data/PROTOCOL.md``.

File ``03a01Fa.wav``: speaker ``03``, text ``a01``, emotion letter ``F``, version ``a``. Labels:
emotion, plus arousal/valence/dominance levels from the emotion's Russell & Mehrabian (1977)
coordinates (the PROTOCOL table; EmoDB has no dimensional ratings).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from kerasser.corpora.utterance import CorpusError, Utterance, label_indices, require_dir

# Emotion letter -> emotion class name (tasks.EMOTION).
EMOTIONS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness", "N": "neutral"}

# Emotion -> (arousal, valence, dominance) levels: the PROTOCOL table.
AVD_LEVELS = {
    "anger": ("high", "low", "high"),
    "boredom": ("low", "low", "low"),
    "disgust": ("high", "low", "mid"),
    "fear": ("high", "low", "low"),
    "happiness": ("high", "high", "high"),
    "sadness": ("low", "low", "low"),
    "neutral": ("mid", "mid", "mid"),
}

# Speaker-independent split (PROTOCOL).
SPLIT_SPEAKERS = {
    "train": ("03", "08", "09", "10", "11", "13"),
    "dev": ("12", "14"),
    "test": ("15", "16"),
}
SPEAKER_SPLIT = {spk: split for split, spks in SPLIT_SPEAKERS.items() for spk in spks}

# The ten sentences, by text code (checked against the syllables in emodb/silb/).
TRANSCRIPTS = {
    "a01": "Der Lappen liegt auf dem Eisschrank.",
    "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.",
    "a05": "Das schwarze Blatt Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.",
    "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}

_NAME = re.compile(r"^(?P<speaker>\d\d)(?P<text>[ab]\d\d)(?P<emotion>[A-Z])(?P<version>[a-z])\.wav$")


def read_emodb(root: str | os.PathLike) -> list[Utterance]:
    """All EmoDB utterances under ``root`` (the emodb folder holding ``wav/``, or ``wav/`` itself), sorted by name."""
    base = require_dir(root, "EmoDB")
    wav_dir = base / "wav" if (base / "wav").is_dir() else base
    files = sorted(wav_dir.glob("*.wav"))
    if not files:
        raise CorpusError(base, "no EmoDB audio found (expected wav/*.wav)")
    return [_utterance(f) for f in files]


def _utterance(path: Path) -> Utterance:
    m = _NAME.match(path.name)
    if m is None:
        raise CorpusError(path, "not an EmoDB file name (expected e.g. 03a01Fa.wav)")
    speaker, text, letter = m["speaker"], m["text"], m["emotion"]
    if letter not in EMOTIONS:
        raise CorpusError(path, f"unknown EmoDB emotion letter {letter!r}; expected one of {''.join(EMOTIONS)}")
    if speaker not in SPEAKER_SPLIT:
        known = ", ".join(sorted(SPEAKER_SPLIT))
        raise CorpusError(path, f"unknown EmoDB speaker {speaker!r}; expected one of {known}")
    if text not in TRANSCRIPTS:
        raise CorpusError(path, f"unknown EmoDB text code {text!r}; expected one of {', '.join(TRANSCRIPTS)}")
    emotion = EMOTIONS[letter]
    arousal, valence, dominance = AVD_LEVELS[emotion]
    labels = label_indices({"emotion": emotion, "arousal": arousal, "valence": valence, "dominance": dominance})
    return Utterance(
        path=str(path),
        speaker=speaker,
        split=SPEAKER_SPLIT[speaker],
        labels=labels,
        transcript=TRANSCRIPTS[text],
        corpus="emodb",
    )
