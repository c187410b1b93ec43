"""EmoDB (Berlin Database of Emotional Speech) reader, following ``shared/data/PROTOCOL.md``.

File ``03a01Fa.wav``: speaker ``03``, text ``a01``, emotion letter ``F``, version ``a``. Labels:
emotion, plus arousal/valence/dominance levels from the emotion's Russell & Mehrabian (1977)
coordinates (the PROTOCOL table; EmoDB has no dimensional ratings).

Transcript: the words of the sentence that are spoken inside the audio file. The copy in
``shared/data`` is cut to 2.0 s, so the end of most sentences is missing; the syllable labels in
``silb/<name>.silb`` (latin-1, one ``<end time> <syllable>`` per line) say when each syllable
ends, and a word is kept when its last syllable ends within the file's duration. Without a silb
file the transcript is None (no CTC target).

Agreement: the share of listeners who recognised the intended emotion (``erkennung.txt``; the
corpus keeps utterances recognised by at least 80 %), usable as a per-utterance training weight.
"""

from __future__ import annotations

import math
import os
import re
from difflib import SequenceMatcher
from pathlib import Path

from kerasser.data.corpora.utterance import CorpusError, Utterance, label_indices, require_dir
from kerasser.tasks import EMOTION_LEVELS

# Emotion letter -> emotion class name (tasks.EMOTION).
EMOTIONS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness", "N": "neutral"}

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
    root = base if wav_dir != base else base.parent  # silb/ and erkennung.txt sit beside wav/
    silb_dir = root / "silb"
    agreement = read_agreement(root / "erkennung.txt")
    return [_utterance(f, silb_dir / f"{f.stem}.silb", agreement.get(f.name)) for f in files]


def read_agreement(path: Path) -> dict[str, float]:
    """File name -> share of listeners who recognised its emotion (0..1), from ``erkennung.txt``
    (latin-1, tab-separated ``Nr. Satz erkannt natuerlich``, decimal commas); {} without it."""
    try:
        lines = path.read_bytes().decode("latin-1").splitlines()
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise CorpusError(path, f"cannot read ({err.strerror or err})") from None
    rates = {}
    for line in lines[1:]:
        parts = line.split()
        if len(parts) >= 3 and parts[1].endswith(".wav"):
            try:
                rates[parts[1]] = float(parts[2].replace(",", ".")) / 100.0
            except ValueError:
                continue
    return rates


def read_syllables(path: Path) -> list[tuple[float, str]] | None:
    """``(end time in s, syllable)`` per line of a silb file; None if there is no such file."""
    try:
        lines = path.read_bytes().decode("latin-1").splitlines()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise CorpusError(path, f"cannot read ({err.strerror or err})") from None
    syllables = []
    for line in lines:
        parts = line.split(None, 1)
        try:
            end = float(parts[0])
        except (ValueError, IndexError):
            continue
        syllables.append((end, parts[1].strip() if len(parts) > 1 else ""))
    return syllables


def _letters(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalpha())


def spoken_words(sentence: str, syllables: list[tuple[float, str]], duration: float) -> str:
    """The words of ``sentence`` whose last syllable ends by ``duration`` seconds (a prefix).

    Words and syllables are matched letter by letter (``difflib``): syllabification changes a
    few letters (``Lappen`` is labelled ``la pen``), so the alignment, not a concatenation,
    decides which syllable ends each word."""
    words = sentence.split()
    word_letters, owner = "", []
    for i, word in enumerate(words):
        letters = _letters(word)
        word_letters += letters
        owner += [i] * len(letters)
    syllable_letters, ends = "", []
    for end, syllable in syllables:
        letters = _letters(syllable)
        syllable_letters += letters
        ends += [end] * len(letters)
    word_end: dict[int, float] = {}
    matcher = SequenceMatcher(None, word_letters, syllable_letters, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            word_end[owner[block.a + k]] = ends[block.b + k]
    kept = []
    for i, word in enumerate(words):
        if word_end.get(i, math.inf) > duration + 1e-3:
            break
        kept.append(word)
    return " ".join(kept)


def _transcript(path: Path, silb: Path, sentence: str) -> str | None:
    syllables = read_syllables(silb)
    if syllables is None:
        return None
    import soundfile as sf

    try:
        duration = sf.info(str(path)).duration
    except (sf.LibsndfileError, OSError, RuntimeError):
        return None  # the audio loader reports the file itself
    return spoken_words(sentence, syllables, duration) or None


def _utterance(path: Path, silb: Path, agreement: float | None = None) -> Utterance:
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
    arousal, valence, dominance = EMOTION_LEVELS[emotion]  # the PROTOCOL table
    labels = label_indices({"emotion": emotion, "arousal": arousal, "valence": valence, "dominance": dominance})
    return Utterance(
        path=str(path),
        speaker=speaker,
        split=SPEAKER_SPLIT[speaker],
        labels=labels,
        transcript=_transcript(path, silb, TRANSCRIPTS[text]),
        agreement=agreement,
        corpus="emodb",
    )
