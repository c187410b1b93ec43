"""``kerasser label`` never reports a wrong result as right and touches only its own output, tried
with real processes on the shipped model (``exported/emodb-avde``, TFLite through LiteRT):

1. non-finite model outputs (huge float samples, a model file with NaN weights) are error rows,
   exit 1; JSONL is always JSON (no NaN);
3. ``--resume`` refuses, in both formats, a file kerasser did not write, and leaves it as it was;
4. a second ``kerasser label`` on an output being written stops with one line (flock);
5. names with a carriage return, formula characters or terminal controls: quoted, guarded
   (``--csv-guard``), read back by ``--resume``, escaped on stderr;
8. an output that cannot be written (/dev/full, a file size limit, a closed or read-only stdout):
   one line, exit 1, what was written resumable; SIGINT exits 130 without a traceback.
"""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fakes import ramp_file  # tests/fakes.py
from hostile_files import NON_FINITE, OK, make_overflow_folder  # tests/hostile_files.py

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "exported" / "emodb-avde"


def kerasser(*args) -> list[str]:
    return [sys.executable, "-m", "kerasser_cli", "label", "--model", str(MODEL), *map(str, args)]


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run(kerasser(*args), stderr=subprocess.PIPE, timeout=300, **kwargs)


def strict_json(line: str) -> dict:
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(line, parse_constant=refuse)


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def lines_in(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def wait_for_lines(path: Path, proc: subprocess.Popen, lines: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while lines_in(path) < lines:
        assert proc.poll() is None, "the run ended before writing its first row"
        assert time.monotonic() < deadline, "no row written in time"
        time.sleep(0.02)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """40 one-second clips (hard links of a few files): a run long enough to catch in the middle."""
    d = tmp_path_factory.mktemp("clips") / "clips"
    d.mkdir()
    sources = [ramp_file(d / f"c{i:03d}.wav", 1.0 + 0.1 * i) for i in range(4)]
    for i in range(4, 40):
        os.link(sources[i % 4], d / f"c{i:03d}.wav")
    return d


# --- 1. non-finite outputs ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_huge_float_samples_give_error_rows_not_labels(tmp_path, fmt):
    cases = make_overflow_folder(tmp_path / "in")
    result = run(tmp_path / "in", "--format", fmt)
    assert result.returncode == 1, result.stderr
    text = result.stdout.decode()
    rows = [strict_json(line) for line in text.splitlines()] if fmt == "jsonl" else csv_rows(text)
    empty = None if fmt == "jsonl" else ""
    assert len(rows) == len(cases)
    for row in rows:
        kind, expected = cases[os.path.basename(row["path"])]
        if kind == OK:
            assert row["error"] == "" and row["arousal"] in ("low", "mid", "high")
        else:
            assert row["error"].startswith(expected) and "peaks at 1e+19" in row["error"]
            assert row["arousal"] == empty and row["arousal_low"] == empty and row["emotion"] == empty
    stderr = result.stderr.decode().splitlines()
    assert stderr[-1] == "2 of 3 files could not be labelled"
    assert all(NON_FINITE in line for line in stderr[:-1]) and len(stderr) == 3


def _nan_weights_model(folder: Path) -> Path:
    """A copy of the shipped model whose largest float32 weight tensor is all NaN."""
    from ai_edge_litert.interpreter import Interpreter

    folder.mkdir()
    for name in ("metadata.json", "model.tflite"):
        shutil.copy(MODEL / name, folder / name)
    data = bytearray((folder / "model.tflite").read_bytes())
    interpreter = Interpreter(model_path=str(folder / "model.tflite"))
    largest = None
    for detail in interpreter.get_tensor_details():
        if detail["dtype"] != np.float32:
            continue
        try:
            weights = interpreter.get_tensor(detail["index"]).tobytes()
        except ValueError:  # not a constant
            continue
        at = data.find(weights) if len(weights) >= 4096 else -1
        if at >= 0 and (largest is None or len(weights) > largest[1]):
            largest = (at, len(weights))
    assert largest is not None
    at, size = largest
    data[at : at + size] = np.full(size // 4, np.nan, np.float32).tobytes()
    (folder / "model.tflite").write_bytes(bytes(data))
    return folder


def test_a_model_file_with_nan_weights_gives_error_rows(tmp_path):
    """The changed model.tflite no longer matches its recorded SHA-256 (refused at load); loaded on
    purpose (--no-verify-model), its NaN probabilities become error rows, never labels."""
    model = _nan_weights_model(tmp_path / "mutated")
    clip = ramp_file(tmp_path / "a.wav", 1.0)
    refused = subprocess.run([sys.executable, "-m", "kerasser_cli", "label", str(clip), "--model", str(model)],
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "does not match the SHA-256" in refused.stderr and not refused.stdout
    for fmt in ("csv", "jsonl"):
        args = [sys.executable, "-m", "kerasser_cli", "label", str(clip), "--model", str(model), "--format", fmt,
                "--no-verify-model"]
        result = subprocess.run(args, capture_output=True, text=True, timeout=300)
        assert result.returncode == 1, result.stderr
        row = strict_json(result.stdout) if fmt == "jsonl" else csv_rows(result.stdout)[0]
        assert row["error"] == "the model gave non-finite arousal probabilities"
        assert row["arousal"] in ("", None) and row["arousal_high"] in ("", None)
        assert result.stderr.splitlines() == [f"{clip}: {row['error']}", "1 of 1 files could not be labelled"]


# --- 3. foreign files -------------------------------------------------------------------------------


FOREIGN = {
    "table.csv": b"name,score\nx,1\ny,2",
    "speakers.csv": b"path,speaker\na.wav,s1\nb.wav,s",  # a path column, resumed as JSONL
    "notes.jsonl": b'{"name": "x"}\n{"name": "y", "partial',
    "mixed.jsonl": b'{"path": "a.wav", "duration": 1.0, "start": 0.0, "end": 1.0, "error": ""}\n{"other": 1}\n{"pa',
    "text.jsonl": b"my precious notes, no newline",
    "widths.csv": b"path,duration,start,end,error\na.wav,1,0,1,\nb.wav,1\nc.wa",
}


@pytest.mark.parametrize("name", sorted(FOREIGN))
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_resume_refuses_files_kerasser_did_not_write(tmp_path, name, fmt):
    out = tmp_path / name
    out.write_bytes(FOREIGN[name])
    clip = ramp_file(tmp_path / "a.wav", 1.0)
    with open(out, "ab") as sink:  # kerasser label ... --resume OUT >> OUT
        result = run(clip, "--format", fmt, "--resume", out, stdout=sink)
    assert result.returncode == 2
    assert out.read_bytes() == FOREIGN[name]  # not a byte touched
    assert result.stderr.decode().splitlines() == [result.stderr.decode().strip()]
    assert result.stderr.decode().startswith(f"Error: cannot resume from {out}: not a kerasser label output (")


def test_resume_into_the_same_file_in_the_other_format_is_refused(tmp_path):
    clip = ramp_file(tmp_path / "a.wav", 1.0)
    out = tmp_path / "out.csv"
    with open(out, "wb") as sink:
        assert run(clip, stdout=sink).returncode == 0
    before = out.read_bytes()
    with open(out, "ab") as sink:
        result = run(clip, "--format", "jsonl", "--resume", out, stdout=sink)
    assert result.returncode == 2 and out.read_bytes() == before
    assert "it holds csv rows: resume it with --format csv" in result.stderr.decode()


# --- 4. two writers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("first_resumes", [True, False])
def test_a_second_writer_on_the_same_output_is_refused(clips, tmp_path, first_resumes):
    """The first run is stopped (SIGSTOP) once it wrote a row, so the second surely meets its lock."""
    out = tmp_path / "out.csv"
    out.touch()
    with open(out, "ab") as sink:
        first = subprocess.Popen(kerasser(clips, *(["--resume", out] if first_resumes else [])), stdout=sink,
                                 stderr=subprocess.PIPE)
    try:
        wait_for_lines(out, first, 2)
        first.send_signal(signal.SIGSTOP)
        with open(out, "ab") as sink:
            second = run(clips, "--resume", out, stdout=sink)
    finally:
        first.send_signal(signal.SIGCONT)
    first.communicate(timeout=300)
    assert first.returncode == 0
    assert second.returncode == 2
    assert second.stderr.decode() == f"Error: {out} is being written by another kerasser label (locked)\n"
    rows = csv_rows(out.read_text())
    assert sorted(r["path"] for r in rows) == sorted(str(p) for p in clips.iterdir())  # each row once
    assert out.read_text().count("path,duration") == 1

    with open(out, "ab") as sink:  # the lock went with the first process
        again = run(clips, "--resume", out, stdout=sink)
    assert again.returncode == 0 and again.stderr == b"" and len(csv_rows(out.read_text())) == len(rows)


# --- 5. names ---------------------------------------------------------------------------------------

NAMES = ["cr\rname.wav", "=cmd.wav", "+plus.wav", "-minus.wav", "@at.wav", "\ttab.wav", "'quote.wav",
         "lf\nname.wav", "esc\x1b[31mred.wav", "plain.wav"]


@pytest.fixture
def named(tmp_path) -> Path:
    for i, name in enumerate(NAMES):
        ramp_file(tmp_path / name, 1.0 + 0.1 * i)
    return tmp_path


def test_names_are_quoted_guarded_and_resumed(named, tmp_path):
    args = ["--", *NAMES]  # relative names, so that each cell starts with the name's first character
    full = run(*args, cwd=named)
    assert full.returncode == 0, full.stderr
    text = full.stdout.decode()
    cells = [r["path"] for r in csv_rows(text)]
    assert len(cells) == len(NAMES)  # no name split its row
    for name, cell in zip(NAMES, cells):
        guarded = name[0] in "=+-@\t\r'"
        assert cell == ("'" + name if guarded else name)
    raw = run("--no-csv-guard", *args, cwd=named)
    assert [r["path"] for r in csv_rows(raw.stdout.decode())] == NAMES

    out = tmp_path / "out.csv"
    out.write_bytes(full.stdout)
    with open(out, "ab") as sink:  # everything done: nothing again, guarded names matched
        again = run("--resume", out, *args, cwd=named, stdout=sink)
    assert again.returncode == 0 and out.read_bytes() == full.stdout

    for inside in (b'"cr\r', b'"lf\n'):  # killed inside a quoted cell, after its CR or its newline
        out.write_bytes(full.stdout[: full.stdout.index(inside) + len(inside)])
        with open(out, "ab") as sink:
            resumed = run("--resume", out, *args, cwd=named, stdout=sink)
        assert resumed.returncode == 0 and out.read_bytes() == full.stdout


def test_class_names_of_a_model_are_guarded_too(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    shutil.copy(MODEL / "model.tflite", model / "model.tflite")
    metadata = json.loads((MODEL / "metadata.json").read_text())
    metadata["tasks"][0]["classes"] = ['=HYPERLINK("http://x")', "-mid", "+high"]
    (model / "metadata.json").write_text(json.dumps(metadata))
    clip = ramp_file(tmp_path / "a.wav", 1.0)
    args = [sys.executable, "-m", "kerasser_cli", "label", str(clip), "--model", str(model)]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][4:8] == ["arousal", 'arousal_=HYPERLINK("http://x")', "arousal_-mid", "arousal_+high"]
    assert rows[1][4] in ("'=HYPERLINK(\"http://x\")", "'-mid", "'+high")


def test_control_characters_in_names_are_escaped_on_stderr(tmp_path):
    bad = tmp_path / "esc\x1b[2J\x07bell\rcr\x9bcsi.wav"
    bad.write_bytes(b"not audio")
    result = run(tmp_path)
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "esc\\x1b[2J\\x07bell\\rcr\\x9bcsi.wav: not a readable audio file" in err
    assert not any(c in err for c in "\x1b\x07\r\x9b")
    assert err.count("\n") == 2


# --- 8. output failures and signals -----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_dev_full(clips, fmt):
    with open("/dev/full", "wb") as full:
        result = run(clips / "c000.wav", "--format", fmt, stdout=full)
    assert result.returncode == 1
    assert result.stderr.decode() == "Error: /dev/full: No space left on device\n"


def test_closed_and_read_only_stdout(clips, tmp_path):
    closed = run(clips / "c000.wav", stdout=None, preexec_fn=lambda: os.close(1))
    assert closed.returncode == 1
    assert closed.stderr.decode() == "Error: <stdout>: Bad file descriptor (closed)\n"
    (tmp_path / "ro").write_bytes(b"")
    with open(tmp_path / "ro", "rb") as read_only:
        result = run(clips / "c000.wav", stdout=read_only)
    assert result.returncode == 1
    assert result.stderr.decode() == f"Error: {tmp_path / 'ro'}: Bad file descriptor\n"


def test_a_full_disk_mid_run_leaves_a_resumable_output(clips, tmp_path):
    """A file size limit (RLIMIT_FSIZE; Python ignores SIGXFSZ) stops the writes mid-row, as a full disk does."""
    complete = run(clips).stdout
    out = tmp_path / "out.csv"
    limit = 3000

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    with open(out, "wb") as sink:
        result = run(clips, stdout=sink, preexec_fn=small_files)
    assert result.returncode == 1
    assert result.stderr.decode() == f"Error: {out}: File too large\n"
    assert out.stat().st_size == limit and not out.read_bytes().endswith(b"\n")
    with open(out, "ab") as sink:
        resumed = run(clips, "--resume", out, stdout=sink)
    assert resumed.returncode == 0 and out.read_bytes() == complete


def test_a_reader_that_goes_away_stops_the_run_quietly(clips):
    proc = subprocess.Popen(kerasser(clips), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # as `| head -1` does
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1 and err == b""


# The real command, held on its third file until a signal comes: the signal always finds the run in
# its middle (with the real pace, a loaded machine could finish the 40 clips before it was sent).
HELD_ON_THE_THIRD_FILE = """
import sys, time
from kerasser.serve.labeling import Labeler
inner, calls = Labeler.predict_waveform, []
def held(self, *args, **kwargs):
    calls.append(None)
    while len(calls) == 3:
        time.sleep(0.05)
    return inner(self, *args, **kwargs)
Labeler.predict_waveform = held
from kerasser_cli.main import cli
cli(prog_name="kerasser", args=sys.argv[1:])
"""


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, -signal.SIGTERM)])
def test_signals_after_the_first_row(clips, tmp_path, sig, code):
    out = tmp_path / "out.csv"
    held = [sys.executable, "-c", HELD_ON_THE_THIRD_FILE, *kerasser(clips)[3:]]
    with open(out, "wb") as sink:
        proc = subprocess.Popen(held, stdout=sink, stderr=subprocess.PIPE)
    wait_for_lines(out, proc, 3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == code and err == b""
    assert lines_in(out) == 3  # the header and the two rows before the held file
    with open(out, "ab") as sink:
        resumed = run(clips, "--resume", out, stdout=sink)
    assert resumed.returncode == 0
    rows = csv_rows(out.read_text())
    assert sorted(r["path"] for r in rows) == sorted(str(p) for p in clips.iterdir())


def test_writers_api_never_writes_nan():
    from kerasser.serve.writers import make_writer, unguard_cell

    row = {"path": "=a.wav", "duration": float("nan"), "start": 0.0, "end": float("inf"), "p": float("-inf"),
           "attention": {"frame_seconds": 0.01, "arousal": [0.5, float("nan")]}, "error": ""}
    cols = ["path", "duration", "start", "end", "p", "attention", "error"]
    jsonl, plain = io.StringIO(), io.StringIO()
    make_writer("jsonl", jsonl, cols).write(row)
    obj = strict_json(jsonl.getvalue())
    assert obj["duration"] is obj["end"] is obj["p"] is None and obj["attention"]["arousal"] == [0.5, None]
    assert obj["path"] == "=a.wav"  # JSON is not a spreadsheet: no guard
    make_writer("csv", plain, cols, csv_guard=False).write(row)
    assert plain.getvalue().splitlines()[1].startswith("=a.wav,,0.000,,,")
    for text in ["", "'", "''", "'a", "=1", "'=1", "-", "a=b", "\r", "@'", "\t\n"]:
        line = make_writer("csv", io.StringIO(), ["x"], header=False).format_row({"x": text})
        [[cell]] = csv.reader(io.StringIO(line, newline=""))
        assert unguard_cell(cell) == text and (cell == text) == (text[:1] not in ("'", "=", "-", "@", "\r", "\t"))
