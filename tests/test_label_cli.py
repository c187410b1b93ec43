"""``kerasser label``: rows on stdout, errors on stderr, exit codes, segmenting, resume, formats.

Most tests swap the model for a fast fake (``Labeler.load`` patched); the tests at the end label
with a real tiny model exported from a one-epoch training run.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner
from fakes import LEVELS, FakeModel, ramp_file  # tests/fakes.py
from kerasser_cli.main import cli

from kerasser.errors import ModelError
from kerasser.serve.labeling import Labeler

HEADER = (
    "path,duration,start,end,arousal,arousal_low,arousal_mid,arousal_high,"
    "valence,valence_low,valence_mid,valence_high,error"
)


@pytest.fixture
def fake_model(monkeypatch):
    """Patch Labeler.load to give the fake model; returns the list of load() calls."""
    calls = []

    def load(cls, model_dir=None, backend="tflite", variant="float32", transcribe=False, attention=False):
        calls.append((model_dir, backend, variant))
        if model_dir is not None and not os.path.isdir(model_dir):
            raise ModelError("no such model folder", path=model_dir)
        speaks = model_dir is not None and os.path.basename(model_dir) == "speaking"
        return cls(FakeModel(transcript="hallo welt" if speaks else None), transcribe=transcribe, attention=attention)

    monkeypatch.setattr(Labeler, "load", classmethod(load))
    return calls


@pytest.fixture
def clips(tmp_path):
    """clips/{a.wav, B.FLAC, broken.wav, readme.txt, sub/c.ogg}"""
    d = tmp_path / "clips"
    (d / "sub").mkdir(parents=True)
    ramp_file(d / "a.wav", 1.0)
    ramp_file(d / "B.FLAC", 0.8, 22050)
    ramp_file(d / "sub" / "c.ogg", 0.6, 44100)
    (d / "broken.wav").write_bytes(b"this is not a wav file")
    (d / "readme.txt").write_text("hello")
    return d


def invoke(*args):
    return CliRunner().invoke(cli, ["label", *map(str, args)])


def rows_of(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_help_documents_exit_codes_and_stays_light():
    code = (
        "import sys; from click.testing import CliRunner; from kerasser_cli.main import cli; "
        "r = CliRunner().invoke(cli, ['label', '--help']); assert r.exit_code == 0, r.output; "
        "print(r.output); print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split()[-2:] == ["False", "False"]
    flat = " ".join(out.split())
    assert "Exit status: 0 when every file was labelled; 1 when at least one file" in flat
    assert "kerasser label DIR --resume out.csv >> out.csv" in flat
    assert "longer than 60 s are cut into 10 s windows" in flat


def test_folder_with_broken_file(fake_model, clips):
    result = invoke(clips)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == HEADER
    rows = rows_of(result.stdout)
    assert [os.path.relpath(r["path"], clips) for r in rows] == ["B.FLAC", "a.wav", "broken.wav", "sub/c.ogg"]
    broken = rows[2]
    assert broken["error"].startswith("not a readable audio file")
    assert broken["arousal"] == broken["arousal_high"] == broken["duration"] == ""
    for r in rows[:2] + rows[3:]:
        assert r["error"] == "" and r["arousal"] in LEVELS and r["valence"] in LEVELS
        assert r["start"] == "0.000" and r["end"] == r["duration"]
        assert sum(float(r[f"arousal_{c}"]) for c in LEVELS) == pytest.approx(1.0, abs=1e-5)
    assert float(rows[1]["duration"]) == 1.0
    err = result.stderr.splitlines()
    assert err[0] == f"{clips / 'broken.wav'}: {broken['error']}"
    assert err[-1] == "1 of 4 files could not be labelled"
    assert "Traceback" not in result.output
    assert fake_model == [(None, "tflite", "float32")]


def test_all_good_exits_0_and_passes_options(fake_model, clips, tmp_path):
    result = invoke(clips / "a.wav", clips / "sub", "--backend", "keras", "--model", tmp_path)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    paths = [r["path"] for r in rows_of(result.stdout)]
    assert paths == [str(clips / "a.wav"), os.path.join(str(clips / "sub"), "c.ogg")]
    assert fake_model == [(str(tmp_path), "keras", "float32")]


def test_explicit_non_audio_and_missing_files_are_tried(fake_model, clips):
    result = invoke(clips / "readme.txt", clips / "nope.wav", clips / "a.wav")
    assert result.exit_code == 1
    rows = rows_of(result.stdout)
    assert [r["error"] != "" for r in rows] == [True, True, False]
    assert rows[1]["error"] == "no such file"
    assert result.stderr.splitlines()[:2] == [
        f"{clips / 'readme.txt'}: {rows[0]['error']}",
        f"{clips / 'nope.wav'}: no such file",
    ]


def test_no_recursive(fake_model, clips):
    result = invoke(clips, "--no-recursive")
    assert [os.path.basename(r["path"]) for r in rows_of(result.stdout)] == ["B.FLAC", "a.wav", "broken.wav"]


def test_jsonl(fake_model, clips):
    result = invoke(clips / "a.wav", clips / "broken.wav", "--format", "jsonl")
    assert result.exit_code == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [list(r) for r in rows] == [HEADER.split(",")] * 2
    assert rows[0]["duration"] == 1.0 and rows[0]["start"] == 0 and rows[0]["error"] == ""
    assert rows[1]["arousal"] is None and rows[1]["error"]


def test_segment(fake_model, tmp_path):
    long = ramp_file(tmp_path / "long.wav", 25.0)
    result = invoke(long, "--segment", "10")
    assert result.exit_code == 0, result.output
    rows = rows_of(result.stdout)
    assert [(r["start"], r["end"], r["duration"]) for r in rows] == [
        ("0.000", "10.000", "25.000"), ("10.000", "20.000", "25.000"), ("20.000", "25.000", "25.000"),
    ]
    assert len({r["arousal_high"] for r in rows}) == 3
    assert invoke(long, "--segment", "0.2").exit_code == 2


def test_automatic_segmentation(fake_model, tmp_path, monkeypatch):
    import kerasser.serve.labeling_files as lf

    # the CLI's help states the library's defaults (it imports them)
    assert "longer than 60 s are cut into 10 s windows" in " ".join(invoke("--help-all").output.split())
    long = ramp_file(tmp_path / "long.wav", 25.0)
    assert len(rows_of(invoke(long, "--segment", "none").stdout)) == 1
    monkeypatch.setattr(lf, "MAX_UNSEGMENTED_SECONDS", 20.0)
    rows = rows_of(invoke(long, "--segment", "none").stdout)
    windows = [(r["start"], r["end"]) for r in rows]
    assert windows == [("0.000", "10.000"), ("10.000", "20.000"), ("20.000", "25.000")]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_resume_after_interrupted_run(fake_model, clips, tmp_path, fmt):
    ramp_file(clips / "sub" / "long.wav", 25.0)
    full = invoke(clips, "--format", fmt, "--segment", "10")
    assert full.exit_code == 1
    lines = full.stdout.splitlines(keepends=True)
    out = tmp_path / f"out.{fmt}"
    keep = 6 if fmt == "csv" else 5  # header?, B, a, broken, c, long 0-10 | long 10-20 cut off
    out.write_text("".join(lines[:keep]) + lines[keep][:25])

    resumed = invoke(clips, "--format", fmt, "--segment", "10", "--resume", out)
    assert resumed.exit_code == 0, resumed.output  # the broken file was reported in the first run
    assert "".join(lines[:keep]) + resumed.stdout == full.stdout  # no header again, no duplicates

    done = tmp_path / f"done.{fmt}"
    done.write_text(full.stdout)
    again = invoke(clips, "--format", fmt, "--segment", "10", "--resume", done)
    assert again.exit_code == 0 and again.stdout == ""


def test_resume_into_other_format_or_new_file(fake_model, clips, tmp_path):
    first = invoke(clips / "a.wav", "--format", "jsonl")
    prev = tmp_path / "prev.jsonl"
    prev.write_text(first.stdout)
    result = invoke(clips / "a.wav", clips / "B.FLAC", "--resume", prev)  # csv after jsonl: new header
    assert result.stdout.splitlines()[0] == HEADER
    assert [os.path.basename(r["path"]) for r in rows_of(result.stdout)] == ["B.FLAC"]
    fresh = invoke(clips / "a.wav", "--resume", tmp_path / "not-yet.csv")  # nothing done yet
    assert fresh.exit_code == 0 and len(fresh.stdout.splitlines()) == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["{clips}", "--resume", "{other}"], "cannot resume into"),
        (["{clips}", "--resume", "{junk}"], "cannot resume from"),
        (["{clips}", "--backend", "keras", "--variant", "int8"], "tflite backend only"),
        (["{clips}", "--model", "/no/such/model"], "/no/such/model"),
    ],
)
def test_setup_errors_are_one_line(fake_model, clips, tmp_path, args, message):
    (tmp_path / "other.csv").write_text("path,duration,start,end,emotion,error\n")
    (tmp_path / "junk.csv").write_text("some,thing\n")
    sub = {"{clips}": str(clips), "{other}": str(tmp_path / "other.csv"),
           "{junk}": str(tmp_path / "junk.csv")}
    result = invoke(*[sub.get(a, a) for a in args])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "Traceback" not in result.output and message in result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1


# --- a real exported model ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic_tiny_export(tmp_path_factory):
    """A small untrained model (arousal, valence; attention) exported with ``export_run`` from a
    run folder made by hand (config.json + best.keras) over a manifest of synthetic clips."""
    import keras

    from kerasser.config import ModelConfig, TrainConfig, save_json
    from kerasser.export import export_run
    from kerasser.model.network import build_model

    root = tmp_path_factory.mktemp("synthetic_tiny_export")
    lines = ["path,split,arousal,valence"]
    labels = [("train", "low", "high"), ("dev", "mid", "low"), ("test", "high", "mid"),
              ("test", "low", "low")]
    for i, (split, a, v) in enumerate(labels):
        ramp_file(root / f"clip{i}.wav", 0.6 + 0.2 * i)
        lines.append(f"clip{i}.wav,{split},{a},{v}")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")
    run = root / "run"
    run.mkdir()
    model_config = ModelConfig(tasks=("arousal", "valence"), conv_filters=10, gru_units=8, gru_layers=1)
    corpora = (("manifest", str(root / "manifest.csv")),)
    save_json(TrainConfig(corpora=corpora, out=str(run), model=model_config, epochs=1), run / "config.json")
    keras.utils.set_random_seed(0)
    build_model(model_config).save(run / "best.keras")
    export_run(run, root / "export", parity_clips_count=2, write=lambda line: None)
    return root / "export"


def test_real_model_rows_and_python_api(synthetic_tiny_export, clips):
    result = invoke(clips, "--model", synthetic_tiny_export)
    assert result.exit_code == 1, result.output  # broken.wav
    assert result.stdout.splitlines()[0] == HEADER
    rows = rows_of(result.stdout)
    assert len(rows) == 4 and [bool(r["error"]) for r in rows] == [False, False, True, False]

    labeler = Labeler.load(synthetic_tiny_export)
    expected = labeler.predict(str(clips / "a.wav"))
    row = rows[1]
    for task in ("arousal", "valence"):
        assert row[task] == expected[task]["label"]
        for c in LEVELS:
            assert float(row[f"{task}_{c}"]) == pytest.approx(expected[task]["probabilities"][c], abs=1e-6)
    x, rate = sf.read(clips / "B.FLAC", dtype="float32")
    stereo = np.stack([x, x], axis=1)
    from_array = labeler.predict(stereo, sample_rate=rate)
    assert from_array["arousal"]["label"] == rows[0]["arousal"]
    high = from_array["arousal"]["probabilities"]["high"]
    assert high == pytest.approx(float(rows[0]["arousal_high"]), abs=1e-5)


def test_real_model_keras_backend_agrees(synthetic_tiny_export, clips):
    tflite = rows_of(invoke(clips / "a.wav", clips / "sub", "--model", synthetic_tiny_export).stdout)
    keras_rows = rows_of(
        invoke(clips / "a.wav", clips / "sub", "--model", synthetic_tiny_export, "--backend", "keras").stdout
    )
    assert [r["path"] for r in keras_rows] == [r["path"] for r in tflite]
    for a, b in zip(tflite, keras_rows):
        assert a["arousal"] == b["arousal"] and a["valence"] == b["valence"]
        for c in LEVELS:
            assert float(a[f"arousal_{c}"]) == pytest.approx(float(b[f"arousal_{c}"]), abs=1e-4)


def test_real_model_missing_model_folder(tmp_path, clips):
    result = invoke(clips, "--model", tmp_path / "no-such-model")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("Error: ") and "no-such-model" in result.stderr
    empty = invoke(clips, "--model", tmp_path)  # a folder that is not an export
    assert empty.exit_code == 2 and "metadata.json" in empty.stderr and "Traceback" not in empty.output


def test_tflite_path_imports_no_tensorflow_and_resumes_in_place(synthetic_tiny_export, clips, tmp_path):
    """In a real process: label with LiteRT, kill-like cut, resume with >> into the same file."""
    ramp_file(clips / "sub" / "long.wav", 25.0)
    out = tmp_path / "out.csv"
    code = (
        "import sys; from kerasser_cli.main import cli\n"
        "try:\n    cli(sys.argv[1:], prog_name='kerasser')\n"
        "except SystemExit as e:\n"
        "    print('tensorflow' in sys.modules, 'keras' in sys.modules, e.code, file=sys.stderr)\n"
    )
    args = [sys.executable, "-c", code, "label", str(clips), "--model", str(synthetic_tiny_export), "--segment", "10"]
    with open(out, "w") as f:
        full = subprocess.run(args, stdout=f, stderr=subprocess.PIPE, text=True)
    assert full.stderr.splitlines()[-1] == "False False 1"
    assert f"{clips / 'broken.wav'}: not a readable audio file" in full.stderr
    complete = out.read_text()
    lines = complete.splitlines(keepends=True)
    assert len(lines) == 1 + 4 + 3  # header, 4 files, long.wav in 3 windows
    out.write_text("".join(lines[:6]) + lines[6][:30])  # cut in the middle of long.wav's second window

    with open(out, "a") as f:  # kerasser label ... --resume out.csv >> out.csv
        resumed = subprocess.run([*args, "--resume", str(out)], stdout=f, stderr=subprocess.PIPE, text=True)
    assert resumed.stderr.splitlines()[-1] == "False False 0"
    assert out.read_text() == complete


def test_transcribe_adds_a_text_column(fake_model, clips, tmp_path):
    speaking = tmp_path / "speaking"
    speaking.mkdir()
    result = CliRunner().invoke(cli, ["label", str(clips / "a.wav"), "--model", str(speaking), "--transcribe"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0])[-2:] == ["text", "error"] and rows[0]["text"] == "hallo welt"

    silent = tmp_path / "silent"
    silent.mkdir()
    result = CliRunner().invoke(cli, ["label", str(clips / "a.wav"), "--model", str(silent), "--transcribe"])
    assert result.exit_code == 2 and "no transcript output" in result.output


def test_attention_column_and_api(synthetic_tiny_export, clips):
    """``--attention``: a JSON column with ``frame_seconds`` and each task's weights, one per 10 ms
    frame, summing to 1; the Python API gives the same weights."""
    labeler = Labeler.load(synthetic_tiny_export)
    if not labeler.has_attention:
        pytest.skip("the tiny export pools the last step")
    for fmt in ("csv", "jsonl"):
        result = invoke(clips / "a.wav", "--model", synthetic_tiny_export, "--attention", "--format", fmt)
        assert result.exit_code == 0, result.output
        if fmt == "csv":
            row = rows_of(result.stdout)[0]
            weights = json.loads(row["attention"])
        else:
            weights = json.loads(result.stdout.splitlines()[0])["attention"]
        assert weights["frame_seconds"] == pytest.approx(0.01)
        for task in ("arousal", "valence"):
            assert sum(weights[task]) == pytest.approx(1.0, abs=1e-3)
            assert abs(len(weights[task]) - 1.0 / 0.01) <= 3  # a 1 s clip: about 100 frames
    api = labeler.predict(str(clips / "a.wav"), attention=True)["attention"]
    assert api["arousal"] == pytest.approx(weights["arousal"], abs=1e-5)
    assert "attention" not in labeler.predict(str(clips / "a.wav"))


def test_attention_needs_an_attention_model(fake_model, clips):
    from kerasser.errors import SettingsError

    with pytest.raises(SettingsError, match="no attention outputs"):
        Labeler(FakeModel(attention=False), attention=True)
    fake = Labeler(FakeModel(attention=True))
    out = fake.predict(str(clips / "a.wav"), attention=True)["attention"]
    assert out["frame_seconds"] == pytest.approx(0.01) and list(out) == ["frame_seconds", "arousal"]
