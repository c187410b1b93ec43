"""Hostile inputs (tests/hostile_files.py) through the audio loader, ``kerasser label``, and the
training/evaluation pipeline: each ends as a correct row or an error row with a specific reason,
never a traceback; an hour-long file is labelled with bounded memory."""

from __future__ import annotations

import csv
import io
import os
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from fakes import FakeModel, sine  # tests/fakes.py
from hostile_files import OK, make_hostile_folder  # tests/hostile_files.py
from kerasser_cli.main import cli

from kerasser.data import audio
from kerasser.data.corpora import Utterance
from kerasser.serve.labeling import Labeler
from kerasser.serve.labeling_files import SILENT, label_source


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile") / "inputs"
    return d, make_hostile_folder(d)


@pytest.fixture
def fake_labeler(monkeypatch):
    monkeypatch.setattr(Labeler, "load", classmethod(lambda cls, *a, **k: cls(FakeModel())))


def check_duration(name, expected, seconds):
    if expected is None:  # a padded codec block or frame
        assert 0.99 <= seconds <= 1.1, name
    else:
        assert seconds == pytest.approx(expected, abs=2e-3), name


def test_loader_gives_audio_or_one_audio_error(hostile):
    folder, cases = hostile
    for name, (kind, expected) in cases.items():
        path = os.path.join(folder, name)
        if kind == OK:
            wave = audio.load(path)
            assert wave.dtype == np.float32 and wave.ndim == 1 and np.isfinite(wave).all(), name
            check_duration(name, expected, len(wave) / audio.SAMPLE_RATE)
        elif SILENT.startswith(expected):
            assert not audio.load(path).any()  # the loader reads silence; labelling refuses it
        else:
            with pytest.raises(audio.AudioError) as info:
                audio.load(path)
            assert info.value.reason.startswith(expected), (name, info.value.reason)
            assert str(info.value).startswith(path + ": ") or "\\n" in str(info.value)


def test_label_gives_one_row_per_file_with_a_specific_reason(hostile, fake_labeler):
    folder, cases = hostile
    os.makedirs(folder / "folder_named.wav", exist_ok=True)  # a folder with an audio name, named explicitly
    result = CliRunner().invoke(cli, ["label", str(folder), str(folder / "folder_named.wav"), "x_missing.wav"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout_bytes.decode("utf-8", "surrogateescape"))))
    by_name = {os.path.relpath(r["path"], folder): r for r in rows}
    # a folder named like audio is walked as a folder (here empty): no row of its own
    assert len(rows) == len(cases) + 1  # + x_missing.wav
    for name, (kind, expected) in cases.items():
        row = by_name[name]
        if kind == OK:
            assert row["error"] == "" and row["arousal"] in ("low", "mid", "high"), (name, row["error"])
            check_duration(name, expected, float(row["duration"]))
        else:
            assert row["error"].startswith(expected), (name, row["error"])
            assert row["arousal"] == ""
    assert rows[-1]["path"] == "x_missing.wav" and rows[-1]["error"] == "no such file"
    failed = [n for n, (kind, _) in cases.items() if kind != OK] + ["x_missing.wav"]
    err = result.stderr.splitlines()
    assert err[-1] == f"{len(failed)} of {len(cases) + 1} files could not be labelled"
    assert len(err) == len(failed) + 1  # one line per failed file, then the count


def test_explicit_folder_named_like_audio(tmp_path):
    (tmp_path / "x.wav").mkdir()
    with pytest.raises(audio.AudioError, match="is a directory, not an audio file"):
        audio.load(tmp_path / "x.wav")


def test_unreadable_file_reason(tmp_path, monkeypatch):
    """As root every file is readable, so the OS refusal is simulated where the loader opens the file."""
    path = tmp_path / "locked.wav"
    sf.write(path, sine(0.5), 16000)

    def refuse(name, flags, *args, **kwargs):
        raise PermissionError(13, "Permission denied", name)

    monkeypatch.setattr(audio.os, "open", refuse)
    with pytest.raises(audio.AudioError, match=r"locked\.wav: cannot read \(Permission denied\)$"):
        audio.load(path)


def test_silent_windows_are_error_rows_and_labelling_goes_on(tmp_path):
    x = sine(30.0)
    x[10 * 16000 : 20 * 16000] = 0.0  # the second 10 s window is digital silence
    path = tmp_path / "gap.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    rows = list(label_source(Labeler(FakeModel()), str(path), segment=10.0))
    assert [(r["start"], r["end"], r["error"]) for r in rows] == [(0, 10, ""), (10, 20, SILENT), (20, 30, "")]


def test_hour_long_file_is_labelled_in_bounded_memory(tmp_path):
    """One hour at 8 kHz (58 MB of 16-bit PCM; 230 MB as float32 at 16 kHz, were it read whole)."""
    path = tmp_path / "hour.wav"
    rate, seconds = 8000, 3600
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", rate, 1, subtype="PCM_16") as f:
        for _ in range(seconds // 60):
            f.write((0.1 * rng.standard_normal(60 * rate)).astype(np.float32))
    labeler = Labeler(FakeModel())
    tracemalloc.start()
    try:
        rows = list(label_source(labeler, str(path)))  # automatic 10 s windows past 60 s
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(rows) == 360 and all(r["error"] == "" for r in rows)
    assert rows[-1]["end"] == pytest.approx(3600.0)
    assert peak < 20e6, f"peak {peak / 1e6:.0f} MB"


def test_training_pipeline_skips_what_it_cannot_use_and_says_why(hostile):
    from kerasser.data.examples import DecodeLog, ExampleSettings, examples

    folder, cases = hostile
    utterances = [Utterance(path=str(folder / name), speaker="s", labels={"arousal": 1}, split="train")
                  for name in sorted(cases)]
    lines = []
    log = DecodeLog(lines.append)
    decoded = list(examples(utterances, ExampleSettings(("arousal",)), log))
    errors = {n for n, (kind, expected) in cases.items() if kind != OK and not SILENT.startswith(expected)}
    assert len(decoded) == len(cases) - len(errors)
    assert {os.path.basename(p) for p in log.failed} == errors
    assert all(line.startswith("warning: skipped ") for line in lines) and len(lines) == len(errors)


def test_training_pipeline_skips_recordings_too_long_to_be_utterances(tmp_path):
    from kerasser.data.examples import DecodeLog, ExampleSettings, examples

    long, short = tmp_path / "long.wav", tmp_path / "short.wav"
    with sf.SoundFile(long, "w", 8000, 1, subtype="PCM_16") as f:
        for _ in range(3):
            f.write(sine(50.0, 8000))  # 150 s
    sf.write(short, sine(2.0), 16000)
    utterances = [Utterance(path=str(p), speaker="s", labels={"arousal": 0}, split="train") for p in (long, short)]
    lines = []
    decoded = list(examples(utterances, ExampleSettings(("arousal",)), DecodeLog(lines.append)))
    assert [len(inputs["waveform"]) for inputs, _, _ in decoded] == [32000]
    assert lines == [f"warning: skipped {long}: 150 s long, over the 120 s an utterance may last "
                     "(cut it into utterances to train or evaluate on it)"]
