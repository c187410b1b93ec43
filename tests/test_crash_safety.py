"""Crash safety, tested by killing real processes with SIGKILL (nothing gets to clean up):

- ``kerasser label`` killed again and again, each time resumed with ``--resume``, ends with exactly
  one row per file (one per window with ``--segment``), none lost and none twice, for CSV and JSONL,
  and with the same rows as an uninterrupted run;
- ``kerasser train`` killed mid-run and resumed ends with the same weights as an uninterrupted run
  of the same seed (tests/test_training_resume.py);
- ``kerasser export`` killed mid-export leaves the previous model folder as it was
  (tests/export/test_export_killed.py).

The label tests use the shipped model (``exported/emodb-avde``) on copies of real EmoDB clips.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "exported" / "emodb-avde"
pytestmark = pytest.mark.slow


def kerasser(*args) -> list[str]:
    return [sys.executable, "-m", "kerasser_cli", *map(str, args)]


def rows_of(path: Path, fmt: str) -> list[dict]:
    text = path.read_text()
    if fmt == "jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return list(csv.DictReader(io.StringIO(text)))


def lines_in(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def run_until_killed(args, out: Path, after_lines: int, timeout: float = 120.0) -> bool:
    """Append ``args``' stdout to ``out``; SIGKILL it once ``out`` holds ``after_lines`` more lines.
    Returns False if the process finished first."""
    start = lines_in(out)
    with open(out, "ab") as sink:
        proc = subprocess.Popen(args, stdout=sink, stderr=subprocess.DEVNULL, env={**os.environ, "KERASSER_MODEL": str(MODEL)})
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            if lines_in(out) - start >= after_lines:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(0.005)
        proc.wait(timeout=timeout)
    return False


@pytest.fixture(scope="module")
def clips(shared_data, tmp_path_factory) -> Path:
    """40 real EmoDB clips (2 s each) and 4 long ones (12 s: six clips joined), in a folder."""
    if not MODEL.is_dir():
        pytest.skip("no shipped model in this checkout")
    source = sorted((shared_data / "emodb" / "wav").glob("*.wav"))[:40]
    folder = tmp_path_factory.mktemp("crash") / "clips"
    folder.mkdir()
    for i, path in enumerate(source):
        shutil.copy(path, folder / f"c{i:02d}.wav")
    for i in range(4):
        parts = [sf.read(p, dtype="float32")[0] for p in source[6 * i : 6 * i + 6]]
        sf.write(folder / f"long{i}.wav", np.concatenate(parts), sf.info(source[0]).samplerate)
    return folder


@pytest.mark.parametrize("fmt, segment", [("csv", None), ("jsonl", 2.0)])
def test_label_killed_and_resumed_gives_each_row_once(clips, tmp_path, fmt, segment):
    extra = ["--format", fmt] + (["--segment", segment] if segment else [])
    reference = tmp_path / f"reference.{fmt}"
    with open(reference, "wb") as sink:
        done = subprocess.run(kerasser("label", clips, *extra), stdout=sink, stderr=subprocess.DEVNULL,
                              env={**os.environ, "KERASSER_MODEL": str(MODEL)})
    assert done.returncode == 0
    expected = rows_of(reference, fmt)

    out = tmp_path / f"out.{fmt}"
    kills = 0
    for step in (1, 3, 7, 11, 17):  # kill after this many new lines, then resume
        args = kerasser("label", clips, *extra) + (["--resume", out] if out.exists() else [])
        kills += run_until_killed(args, out, step)
    with open(out, "ab") as sink:  # the last resume runs to the end
        done = subprocess.run(kerasser("label", clips, *extra, "--resume", out), stdout=sink,
                              stderr=subprocess.DEVNULL, env={**os.environ, "KERASSER_MODEL": str(MODEL)})
    assert done.returncode == 0
    assert kills >= 3, "the runs ended before they could be killed: nothing was tested"

    rows = rows_of(out, fmt)
    keys = [(r["path"], str(r["start"])) for r in rows]
    assert len(keys) == len(set(keys)), "a row was written twice"
    assert sorted(keys) == sorted((r["path"], str(r["start"])) for r in expected), "a row was lost"
    if segment:
        assert len(rows) > len(list(clips.iterdir()))  # the long files gave several windows each
    by_key = {(r["path"], str(r["start"])): r for r in expected}
    for r in rows:  # the same labels as the uninterrupted run
        assert r == by_key[(r["path"], str(r["start"]))]
