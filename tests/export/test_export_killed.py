"""``kerasser export`` killed with SIGKILL mid-export (nothing gets to clean up) leaves the previous
model folder as it was, or, killed after the new folder was renamed into place, the whole new one;
the next export replaces it and removes the leftovers."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow


def kerasser(*args) -> list[str]:
    return [sys.executable, "-m", "kerasser_cli", *map(str, args)]


def test_export_killed_midway_leaves_the_previous_model(emodb_tiny_export, tmp_path):
    """SIGKILL at several moments of ``kerasser export`` over an existing folder: the folder is
    always the complete previous export, and the next export replaces it and cleans up."""
    run, exported = emodb_tiny_export[0], emodb_tiny_export[1]
    target = tmp_path / "model"
    shutil.copytree(exported, target)
    before = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    for delay in (2.0, 6.0, 12.0):
        proc = subprocess.Popen(kerasser("export", run, "--out", target), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is not None:
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        after = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
        if after != before:  # killed after the new folder was renamed into place: it must be whole
            from kerasser.serve.inference import load_exported

            listed = json.loads((target / "metadata.json").read_text())["files"]
            assert all((target / entry["path"]).exists() for entry in listed.values()), f"killed after {delay} s"
            load_exported(target)
            before = after
    done = subprocess.run(kerasser("export", run, "--out", target), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (target / "metadata.json").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".model")] == []  # leftovers removed
