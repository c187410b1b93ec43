"""kerasser.data.corpora.ravdess: a small synthetic fixture (FLAC and WAV) and the real shared copy."""

from __future__ import annotations

import collections
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kerasser.data.audio import load
from kerasser.data.corpora import READERS, CorpusError, Utterance, read_corpus, read_ravdess
from kerasser.data.corpora.ravdess import PROTOCOL_FOLDS, SPLIT_SPEAKERS, intensity_of
from kerasser.tasks import EMOTION, TASKS

KIDS, DOGS = "Kids are talking by the door.", "Dogs are sitting by the door."


def names(utt: Utterance) -> dict[str, str]:
    """Labels as class names, for readable assertions."""
    return {task: TASKS[task].classes[i] for task, i in utt.labels.items()}


def by_stem(utterances: list[Utterance]) -> dict[str, Utterance]:
    return {Path(u.path).stem: u for u in utterances}


def write_clip(path: Path, rate: int = 16000) -> Path:
    """A 0.1 s sine as a 16-bit file (FLAC or WAV by suffix) in its (new) Actor folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(rate // 10) / rate
    sf.write(path, (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, subtype="PCM_16")
    return path


# --- synthetic fixture ---------------------------------------------------------------------------

# name -> expected (speaker, split, labels as names, transcript)
FIXTURE = {
    "Actor_01/03-01-01-01-01-01-01.flac": (
        "01", "train", {"emotion": "neutral", "arousal": "mid", "valence": "mid", "dominance": "mid"}, KIDS
    ),
    "Actor_01/03-01-02-02-02-01-01.flac": ("01", "train", {"emotion": "calm"}, DOGS),
    "Actor_16/03-01-05-02-01-02-16.flac": (
        "16", "train", {"emotion": "anger", "arousal": "high", "valence": "low", "dominance": "high"}, KIDS
    ),
    "Actor_17/03-01-08-01-02-02-17.flac": ("17", "dev", {"emotion": "surprise"}, DOGS),
    "Actor_20/03-01-03-01-01-01-20.flac": (
        "20", "dev", {"emotion": "happiness", "arousal": "high", "valence": "high", "dominance": "high"}, KIDS
    ),
    "Actor_21/03-01-04-01-01-01-21.flac": (
        "21", "test", {"emotion": "sadness", "arousal": "low", "valence": "low", "dominance": "low"}, KIDS
    ),
    "Actor_22/03-01-06-02-02-01-22.flac": (
        "22", "test", {"emotion": "fear", "arousal": "high", "valence": "low", "dominance": "low"}, DOGS
    ),
    # the original release's 48 kHz WAV, same name pattern
    "Actor_24/03-01-07-01-01-02-24.wav": (
        "24", "test", {"emotion": "disgust", "arousal": "high", "valence": "low", "dominance": "mid"}, KIDS
    ),
}


@pytest.fixture
def fixture_root(tmp_path) -> Path:
    for name in FIXTURE:
        write_clip(tmp_path / name, 48000 if name.endswith(".wav") else 16000)
    (tmp_path / "Actor_01" / "notes.txt").write_text("not audio: ignored")
    return tmp_path


def test_fixture_labels_splits_speakers_transcripts(fixture_root):
    utts = read_corpus("ravdess", fixture_root)
    assert [u.path for u in utts] == sorted(str(fixture_root / name) for name in FIXTURE)
    for u in utts:
        name = Path(u.path).relative_to(fixture_root).as_posix()
        speaker, split, labels, transcript = FIXTURE[name]
        assert (u.speaker, u.split, names(u), u.transcript, u.corpus) == (speaker, split, labels, transcript, "ravdess")
        assert os.path.isabs(u.path) and u.agreement is None
    u = by_stem(utts)
    # calm and surprise: emotion only (no level in the PROTOCOL table); intensity never a label
    assert set(u["03-01-02-02-02-01-01"].labels) == {"emotion"}
    assert set(u["03-01-08-01-02-02-17"].labels) == {"emotion"}
    assert all(set(x.labels) <= set(TASKS) for x in utts)
    assert intensity_of(u["03-01-02-02-02-01-01"].path) == "strong"
    assert intensity_of(u["03-01-08-01-02-02-17"].path) == "normal"
    assert len(load(u["03-01-07-01-01-02-24"].path, 16000)) == 1600  # the WAV, resampled 48 -> 16 kHz
    assert read_ravdess(fixture_root / "Actor_01") == utts[:2]  # any folder holding the files


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("03-01-01-01-01-01.flac", "not a RAVDESS file name"),
        ("recording.wav", "not a RAVDESS file name"),
        ("03-01-01-01-01-01-01.mp3.flac", "not a RAVDESS file name"),
        ("01-01-01-01-01-01-01.flac", "modality 01 is not audio-only"),
        ("03-02-01-01-01-01-01.flac", "vocal channel 02 is not speech"),
        ("03-01-09-01-01-01-01.flac", "unknown RAVDESS emotion '09'"),
        ("03-01-01-03-01-01-01.flac", "unknown RAVDESS intensity '03'"),
        ("03-01-01-01-03-01-01.flac", "unknown RAVDESS statement '03'"),
        ("03-01-01-01-01-03-01.flac", "unknown RAVDESS repetition '03'"),
        ("03-01-01-01-01-01-25.flac", "unknown RAVDESS actor '25'"),
    ],
)
def test_bad_name_names_the_file(tmp_path, name, message):
    write_clip(tmp_path / "Actor_01" / "03-01-01-01-01-01-01.flac")
    bad = write_clip(tmp_path / "Actor_01" / name)
    with pytest.raises(CorpusError, match=message) as e:
        read_corpus("ravdess", tmp_path)
    assert str(e.value).startswith(f"{bad}: ")
    assert "\n" not in str(e.value)


def test_errors(tmp_path):
    with pytest.raises(CorpusError, match="no RAVDESS audio found"):
        read_corpus("ravdess", tmp_path)
    with pytest.raises(CorpusError, match="no such file or folder"):
        read_corpus("ravdess", tmp_path / "missing")
    with pytest.raises(CorpusError, match="no such RAVDESS folder"):
        read_ravdess(tmp_path / "missing")
    write_clip(tmp_path / "flac" / "Actor_02" / "03-01-01-01-01-01-02.flac")
    wav = write_clip(tmp_path / "wav" / "Actor_02" / "03-01-01-01-01-01-02.wav")
    with pytest.raises(CorpusError, match=r"the same RAVDESS utterance as .*03-01-01-01-01-01-02\.flac") as e:
        read_corpus("ravdess", tmp_path)
    assert str(e.value).startswith(f"{wav}: ")


def test_constants():
    assert "ravdess" in READERS
    assert {"calm", "surprise"} <= set(EMOTION.classes)
    assert SPLIT_SPEAKERS["train"] == tuple(f"{a:02d}" for a in range(1, 17))
    assert PROTOCOL_FOLDS[0] == ("01", "02", "03", "04") and PROTOCOL_FOLDS[-1] == ("21", "22", "23", "24")
    assert len(PROTOCOL_FOLDS) == 6
    assert sorted(s for fold in PROTOCOL_FOLDS for s in fold) == [f"{a:02d}" for a in range(1, 25)]
    for part in SPLIT_SPEAKERS.values():  # each part half male (odd), half female (even)
        assert sum(int(s) % 2 for s in part) * 2 == len(part)


# --- the real shared copy ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ravdess(shared_data):
    return read_corpus("ravdess", shared_data / "ravdess")


def test_real_counts_and_splits(ravdess, shared_data):
    assert len(ravdess) == 1440
    assert all(u.corpus == "ravdess" and os.path.isabs(u.path) for u in ravdess)
    assert [u.path for u in ravdess] == sorted(u.path for u in ravdess)
    assert all(u.path.endswith(".flac") for u in ravdess)
    assert collections.Counter(u.speaker for u in ravdess) == {f"{a:02d}": 60 for a in range(1, 25)}
    speakers = {s: {u.speaker for u in ravdess if u.split == s} for s in ("train", "dev", "test")}
    assert speakers == {s: set(spk) for s, spk in SPLIT_SPEAKERS.items()}
    assert collections.Counter(u.split for u in ravdess) == {"train": 960, "dev": 240, "test": 240}
    # every file sits in its own actor's folder
    assert all(Path(u.path).parent.name == f"Actor_{u.speaker}" for u in ravdess)


def test_real_labels(ravdess):
    emotions = collections.Counter(names(u)["emotion"] for u in ravdess)
    assert emotions == {e: 192 for e in ("calm", "happiness", "sadness", "anger", "fear", "disgust", "surprise")} | {
        "neutral": 96
    }
    for u in ravdess:
        n = names(u)
        if n["emotion"] in ("calm", "surprise"):
            assert set(n) == {"emotion"}
        else:
            assert set(n) == {"emotion", "arousal", "valence", "dominance"}
    assert collections.Counter(u.transcript for u in ravdess) == {KIDS: 720, DOGS: 720}
    assert collections.Counter(intensity_of(u.path) for u in ravdess) == {"normal": 768, "strong": 672}
    u = by_stem(ravdess)
    assert names(u["03-01-05-02-01-01-12"]) == {"emotion": "anger", "arousal": "high", "valence": "low", "dominance": "high"}
    assert u["03-01-05-02-01-01-12"].transcript == KIDS


def test_real_files_decode(ravdess):
    u = by_stem(ravdess)
    for stem in ("03-01-01-01-01-01-01", "03-01-08-02-02-02-24"):
        samples = load(u[stem].path, 16000)
        assert samples.dtype == np.float32 and samples.ndim == 1
        assert 2.5 * 16000 < len(samples) < 5.5 * 16000
        assert 0 < np.abs(samples).max() <= 1.0
