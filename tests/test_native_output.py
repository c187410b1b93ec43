"""Native libraries' stderr chatter: captured below Python, replayed only when a block crashes;
`kerasser label` shows nothing but progress and real problems unless --verbose."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kerasser.errors import DataError
from kerasser.native_output import native_stderr_silenced

REPO = Path(__file__).resolve().parents[1]


def test_native_writes_are_dropped_and_python_stderr_still_shows(capfd):
    with native_stderr_silenced():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        print("progress 1/2", file=sys.stderr)
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "XNNPACK" not in err and "progress 1/2" in err and "after" in err


def test_a_crash_replays_what_the_library_said(capfd):
    with pytest.raises(RuntimeError):
        with native_stderr_silenced():
            os.write(2, b"F0000 check failed: tensor shape\n")
            raise RuntimeError("interpreter died")
    assert "check failed" in capfd.readouterr().err


def test_an_error_that_explains_itself_replays_nothing(capfd):
    with pytest.raises(DataError):
        with native_stderr_silenced():
            os.write(2, b"INFO: chatter\n")
            raise DataError("no test utterances")
    assert "chatter" not in capfd.readouterr().err


def label(*args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("KERASSER_MODEL", "TF_CPP_MIN_LOG_LEVEL")}
    kerasser = str(Path(sys.executable).parent / "kerasser")  # the installed console script
    return subprocess.run([kerasser, "label", *args], capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tflite", "keras"])
def test_label_stderr_is_empty_when_all_goes_well(backend):
    if not (REPO / "exported" / "emodb-avde" / "metadata.json").is_file():
        pytest.skip("no shipped model in this checkout")
    done = label("examples/", "--backend", backend)
    assert done.returncode == 0 and done.stdout.count("\n") == 8  # header + 7 clips
    assert done.stderr == ""


@pytest.mark.slow
def test_verbose_shows_the_runtime_and_quiet_hides_problems(tmp_path):
    if not (REPO / "exported" / "emodb-avde" / "metadata.json").is_file():
        pytest.skip("no shipped model in this checkout")
    (tmp_path / "bad.wav").write_text("not audio")
    (tmp_path / "good.wav").write_bytes((REPO / "examples" / "15a01La.wav").read_bytes())
    verbose = label(str(tmp_path), "--verbose")
    assert "XNNPACK" in verbose.stderr and "bad.wav: not a readable audio file" in verbose.stderr
    normal = label(str(tmp_path))
    assert normal.returncode == 1 and normal.stderr.splitlines() == [
        f"{tmp_path / 'bad.wav'}: not a readable audio file (Format not recognised)",
        "1 of 2 files could not be labelled",
    ]
    quiet = label(str(tmp_path), "--quiet")
    assert quiet.returncode == 1 and quiet.stderr == "" and quiet.stdout.count("\n") == 3
