"""Labeling library: Labeler, file finding, windowed reading, row building, writers and resume.

Uses a small fake model (the ExportedModel interface: tasks, sample_rate, predict) so these tests
stay fast; tests/test_label_cli.py runs a real exported model as well.
"""

from __future__ import annotations

import csv
import io
import json
import os

import numpy as np
import pytest
import soundfile as sf
from fakes import LEVELS, FakeModel, ramp_file, sine  # tests/fakes.py

from kerasser.data.audio import AudioError, load
from kerasser.data.windows import plan_windows, probe, read_windows
from kerasser.serve.label_resume import read_previous
from kerasser.serve.labeling import Labeler
from kerasser.serve.labeling_files import (
    AUDIO_EXTENSIONS,
    find_audio,
    label_files,
    label_source,
)
from kerasser.serve.writers import columns, make_writer


@pytest.fixture
def labeler():
    return Labeler(FakeModel(("arousal", "emotion"), name="fake", attention=True))


@pytest.fixture
def folder(tmp_path):
    """d/{b.wav, A.WAV, notes.txt, .hidden.wav, broken.wav, sub/c.flac, sub/deeper/d.ogg, .git/x.wav}."""
    d = tmp_path / "d"
    (d / "sub" / "deeper").mkdir(parents=True)
    (d / ".git").mkdir()
    sf.write(d / "b.wav", sine(1.0), 16000)
    sf.write(d / "A.WAV", sine(0.5, 22050), 22050)
    sf.write(d / "sub" / "c.flac", sine(0.7), 16000)
    sf.write(d / "sub" / "deeper" / "d.ogg", sine(0.6, 44100), 44100)
    sf.write(d / ".hidden.wav", sine(0.2), 16000)
    sf.write(d / ".git" / "x.wav", sine(0.2), 16000)
    (d / "notes.txt").write_text("not audio")
    (d / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    return d


def rel(sources, base):
    return [os.path.relpath(s.path, base) for s in sources]


# --- Labeler ----------------------------------------------------------------------------------


def test_labeler_predict_path(labeler, tmp_path):
    path = ramp_file(tmp_path / "a.wav", 1.0)
    out = labeler.predict(str(path))
    assert list(out) == ["arousal", "emotion"]  # attention outputs are left out
    for task, classes in labeler.tasks:
        probs = out[task]["probabilities"]
        assert list(probs) == list(classes)
        assert sum(probs.values()) == pytest.approx(1.0)
        assert out[task]["label"] == max(probs, key=probs.get)
        assert all(isinstance(p, float) for p in probs.values())
    assert labeler.predict(path) == out  # PathLike too


def test_labeler_predict_array_44k_stereo(labeler):
    left = sine(1.0, 44100, amplitude=0.4)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    out = labeler.predict(stereo, sample_rate=44100)
    seen = labeler.model.seen[-1]
    assert abs(len(seen) - 16000) <= 1  # resampled to 16 kHz
    assert np.sqrt(np.mean(seen[2000:-2000] ** 2)) == pytest.approx(0.2 / np.sqrt(2), rel=0.02)  # down-mixed
    assert set(out) == {"arousal", "emotion"}
    int16 = (stereo * 32767).astype(np.int16)
    assert labeler.predict(int16, sample_rate=44100)["arousal"]["label"] == out["arousal"]["label"]


def test_labeler_argument_errors(labeler, tmp_path):
    with pytest.raises(ValueError, match="sample_rate"):
        labeler.predict(np.zeros(100, np.float32))
    with pytest.raises(AudioError, match="no such file"):
        labeler.predict(str(tmp_path / "missing.wav"))
    with pytest.raises(AudioError, match="empty"):
        labeler.predict(np.zeros(0, np.float32), sample_rate=16000)


def test_labeler_is_public_api():
    import kerasser

    assert kerasser.Labeler is Labeler


# --- finding files ----------------------------------------------------------------------------


def test_find_audio_recursive_sorted_case_insensitive(folder):
    assert {"wav", "flac", "ogg", "mp3", "aiff", "au"} <= AUDIO_EXTENSIONS
    found = find_audio([folder])
    assert rel(found, folder) == ["A.WAV", "b.wav", "broken.wav", "sub/c.flac", "sub/deeper/d.ogg"]
    assert found[0].path == os.path.join(str(folder), "A.WAV")  # the folder argument joined with it


def test_find_audio_no_recursive_and_explicit_files(folder):
    assert rel(find_audio([folder], recursive=False), folder) == ["A.WAV", "b.wav", "broken.wav"]
    notes = str(folder / "notes.txt")
    found = find_audio([notes, str(folder / "sub"), str(folder / "sub" / "c.flac"), "missing.wav"])
    # explicit files are always tried; arguments keep their order; a path reached twice comes once
    assert [s.path for s in found] == [
        notes,
        os.path.join(str(folder / "sub"), "c.flac"),
        os.path.join(str(folder / "sub"), "deeper", "d.ogg"),
        "missing.wav",
    ]


def test_find_audio_path_as_given(folder, monkeypatch):
    monkeypatch.chdir(folder.parent)
    assert [s.path for s in find_audio(["d/sub/"])] == ["d/sub/c.flac", "d/sub/deeper/d.ogg"]


# --- windows ----------------------------------------------------------------------------------


def test_plan_windows():
    assert plan_windows(25.0, 10.0) == [(0.0, 10.0), (10.0, 20.0), (20.0, 25.0)]
    assert plan_windows(20.0, 10.0) == [(0.0, 10.0), (10.0, 20.0)]
    assert plan_windows(20.4, 10.0) == [(0.0, 10.0), (10.0, 20.4)]  # a last window under 1 s joins
    assert plan_windows(3.0, 10.0) == [(0.0, 3.0)]
    assert plan_windows(0.5, 10.0) == [(0.0, 0.5)]


def test_read_windows_matches_whole_file_and_reads_bounded(tmp_path, monkeypatch):
    path = ramp_file(tmp_path / "long.wav", 25.0)
    whole = load(path)
    reads = []
    original = sf.SoundFile.read

    def spy(self, frames=-1, *args, **kwargs):
        reads.append(frames)
        return original(self, frames, *args, **kwargs)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    wins = list(read_windows(path, plan_windows(25.0, 10.0)))
    assert [(w.start, w.end) for w in wins] == [(0.0, 10.0), (10.0, 20.0), (20.0, 25.0)]
    assert reads == [160000, 160000, 80000]  # never the whole file at once
    np.testing.assert_array_equal(np.concatenate([w.waveform for w in wins]), whole)


def test_read_windows_resamples_each_window(tmp_path):
    path = tmp_path / "a.flac"
    sf.write(path, np.stack([sine(12.0, 44100)] * 2, axis=1), 44100)
    assert probe(path).duration == pytest.approx(12.0)
    wins = list(read_windows(path, plan_windows(12.0, 5.0)))
    assert [len(w.waveform) for w in wins] == [80000, 80000, 32000]
    assert all(w.waveform.dtype == np.float32 for w in wins)


@pytest.mark.parametrize(
    "content, reason",
    [(b"", r"empty file \(0 bytes\)"), (b"hello, not audio", "not a readable"), (None, "no such file")],
)
def test_probe_errors_are_audio_errors(tmp_path, content, reason):
    path = tmp_path / "x.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(AudioError, match=reason) as info:
        probe(path)
    assert "\n" not in str(info.value)


def test_probe_empty_wav(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="empty audio"):
        probe(path)


# --- rows -------------------------------------------------------------------------------------


def test_columns():
    assert columns(FakeModel(("arousal", "emotion")).tasks) == [
        "path", "duration", "start", "end", "arousal", "arousal_low", "arousal_mid", "arousal_high",
        "emotion", "emotion_anger", "emotion_neutral", "error",
    ]


def test_unsegmented_row(labeler, tmp_path):
    path = str(ramp_file(tmp_path / "a.wav", 2.5))
    [row] = label_source(labeler, path)
    assert row["path"] == path and row["error"] == ""
    assert (row["duration"], row["start"], row["end"]) == (2.5, 0.0, 2.5)
    assert row["arousal"] in LEVELS
    assert sum(row[f"arousal_{c}"] for c in LEVELS) == pytest.approx(1.0)
    expected = labeler.predict(path)
    assert row["emotion_anger"] == expected["emotion"]["probabilities"]["anger"]


def test_segment_rows(labeler, tmp_path):
    path = str(ramp_file(tmp_path / "long.wav", 25.0))
    rows = list(label_source(labeler, path, segment=10.0))
    assert [(r["start"], r["end"], r["duration"]) for r in rows] == [(0, 10, 25), (10, 20, 25), (20, 25, 25)]
    assert len({r["arousal_high"] for r in rows}) == 3  # each window predicted on its own
    assert all(r["error"] == "" for r in rows)
    whole = load(path)
    third = labeler.predict_waveform(whole[320000:])
    assert rows[2]["arousal_low"] == pytest.approx(third["arousal"]["probabilities"]["low"], abs=1e-6)


def test_automatic_segmentation_of_long_files(labeler, tmp_path):
    path = str(ramp_file(tmp_path / "long.wav", 25.0))
    assert len(list(label_source(labeler, path))) == 1  # under the 60 s maximum
    rows = list(label_source(labeler, path, max_duration=20.0, default_segment=10.0))
    assert [(r["start"], r["end"]) for r in rows] == [(0, 10), (10, 20), (20, 25)]
    short = str(ramp_file(tmp_path / "short.wav", 3.0))
    assert [(r["start"], r["end"]) for r in label_source(labeler, short, max_duration=20.0)] == [(0, 3)]


def test_corrupt_window_gives_error_row_after_good_ones(labeler, tmp_path):
    path = tmp_path / "nan.wav"
    x = sine(25.0)
    x[330000] = np.nan  # 20.6 s: in the third window
    sf.write(path, x, 16000, subtype="FLOAT")
    rows = list(label_source(labeler, str(path), segment=10.0))
    assert [r["error"] for r in rows[:2]] == ["", ""]
    assert rows[2]["error"] == "non-finite samples (NaN or inf)"
    assert (rows[2]["start"], rows[2]["end"], rows[2]["duration"]) == (20, 25, 25)
    assert "arousal" not in rows[2]  # written empty


def test_prediction_failure_is_a_row_error(tmp_path):
    class Broken(FakeModel):
        def predict(self, waveform):
            raise RuntimeError("boom\nsecond line")

    path = str(ramp_file(tmp_path / "a.wav", 1.0))
    [row] = label_source(Labeler(Broken()), path)
    assert row["error"] == "prediction failed (RuntimeError: boom second line)"


def run_label(labeler, paths, fmt="csv", previous=None, header=True, **kwargs):
    out = io.StringIO()
    writer = make_writer(fmt, out, columns(labeler.tasks), header=header)
    errors = []
    summary = label_files(
        labeler, find_audio(paths), writer, previous=previous,
        on_error=lambda p, r: errors.append((p, r)), **kwargs,
    )
    return out.getvalue(), summary, errors


def test_folder_with_broken_file(labeler, folder):
    text, summary, errors = run_label(labeler, [str(folder), str(folder / "missing.wav")])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == ",".join(columns(labeler.tasks))
    assert [os.path.relpath(r["path"], folder) for r in rows] == [
        "A.WAV", "b.wav", "broken.wav", "sub/c.flac", "sub/deeper/d.ogg", "missing.wav",
    ]
    bad = {r["path"]: r for r in rows if r["error"]}
    assert set(bad) == {str(folder / "broken.wav"), str(folder / "missing.wav")}
    assert bad[str(folder / "missing.wav")]["error"] == "no such file"
    assert all(bad[p]["arousal"] == "" and bad[p]["arousal_low"] == "" for p in bad)
    good = [r for r in rows if not r["error"]]
    assert all(r["arousal"] in LEVELS and float(r["duration"]) > 0 for r in good)
    assert float(good[0]["duration"]) == pytest.approx(0.5) and good[0]["end"] == good[0]["duration"]
    assert [p for p, _ in errors] == [str(folder / "broken.wav"), str(folder / "missing.wav")]
    assert (summary.files, summary.failed, summary.rows, summary.skipped) == (6, 2, 6, 0)


def test_jsonl_rows(labeler, folder):
    text, _, _ = run_label(labeler, [str(folder)], fmt="jsonl")
    rows = [json.loads(line) for line in text.splitlines()]
    assert len(rows) == 5 and list(rows[0]) == columns(labeler.tasks)
    assert rows[0]["start"] == 0 and rows[0]["end"] == rows[0]["duration"] == 0.5
    broken = rows[2]
    assert broken["arousal"] is None and broken["duration"] is None
    assert broken["error"].startswith("not a readable")
    assert rows[1]["error"] == "" and isinstance(rows[1]["arousal_high"], float)


class Flushes(io.StringIO):
    def __init__(self):
        super().__init__()
        self.flushed_at = []

    def flush(self):
        self.flushed_at.append(self.getvalue().count("\n"))


def test_rows_are_flushed_one_by_one(labeler, folder):
    out = Flushes()
    writer = make_writer("csv", out, columns(labeler.tasks))
    label_files(labeler, find_audio([folder]), writer)
    assert out.flushed_at == [1, 2, 3, 4, 5, 6]


# --- resume -----------------------------------------------------------------------------------


@pytest.fixture
def mixed(tmp_path, folder):
    """The folder plus a 25 s file, segmented at 10 s: 8 rows with windows to be cut through."""
    ramp_file(folder / "sub" / "long.wav", 25.0)
    return folder


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("keep_lines", [0, 2, 6, 7])  # 6 and 7: stopped inside the segmented file
def test_resume_after_cut_off_output(labeler, mixed, tmp_path, fmt, keep_lines):
    full, _, _ = run_label(labeler, [str(mixed)], fmt=fmt, segment=None, max_duration=20.0)
    lines = full.splitlines(keepends=True)
    assert len(lines) == (9 if fmt == "csv" else 8)
    out_path = tmp_path / f"out.{fmt}"
    cut = "".join(lines[:keep_lines]) + lines[keep_lines][:17]  # killed mid-row
    out_path.write_text(cut)

    previous = read_previous(out_path)
    assert previous.rows_cut_off
    assert previous.format == (None if keep_lines == 0 else fmt)
    header = not previous.has_header_for(fmt)
    assert header == (keep_lines == 0)
    with open(out_path, "a") as out:
        assert previous.trim_if_same_file(out)  # the partial line goes before appending
        writer = make_writer(fmt, out, columns(labeler.tasks), header=header)
        summary = label_files(labeler, find_audio([str(mixed)]), writer, previous=previous, max_duration=20.0)
    assert out_path.read_text() == full  # the same bytes as one uninterrupted run: no duplicates
    assert summary.skipped == sum(p.complete for p in previous.files.values())

    again = read_previous(out_path)
    assert not again.rows_cut_off and all(p.complete for p in again.files.values())
    text, summary, _ = run_label(labeler, [str(mixed)], fmt=fmt, previous=again, header=False,
                                 max_duration=20.0)
    assert text == "" and summary.skipped == 6


def test_resume_from_missing_or_empty_file(tmp_path):
    prev = read_previous(tmp_path / "none.csv")
    assert prev.format is None and prev.files == {} and not prev.has_header_for("csv")
    (tmp_path / "empty.csv").write_text("")
    assert read_previous(tmp_path / "empty.csv").format is None
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a kerasser label output"):
        read_previous(tmp_path / "bad.csv")


def test_trim_leaves_other_outputs_alone(tmp_path):
    src = tmp_path / "out.csv"
    src.write_text("path,duration,start,end,error\nx.wav,1,0,1,\ny.w")
    prev = read_previous(src)
    assert set(prev.files) == {"x.wav"} and prev.rows_cut_off
    with open(tmp_path / "other.csv", "a") as other:
        assert not prev.trim_if_same_file(other)
    assert not prev.trim_if_same_file(io.StringIO())
    assert src.read_text().endswith("y.w")
