"""Beam DirectRunner labelling beside the single-machine ``kerasser label``, on the same files.

    python benchmarks/beam_speed.py [--data ../shared/data] [--files 200]

Labels the first --files EmoDB clips (sorted by name) with ``kerasser label`` and with
``kerasser label --runner beam`` (DirectRunner, 1 and 2 workers in one process; each worker has its
own LiteRT interpreter, which itself uses every core), and prints files per second, including start-up
(model load, pipeline construction), and the ratio to ``label``. Same machine, same run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "kerasser_cli", *args], capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(done.stderr[-2000:])
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("KERASSER_SHARED", "../shared") + "/data")
    parser.add_argument("--files", type=int, default=200)
    args = parser.parse_args()
    wavs = sorted((Path(args.data) / "emodb" / "wav").glob("*.wav"))[: args.files]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for w in wavs:
            os.symlink(w.resolve(), folder / w.name)
        rows = {"kerasser label": timed(["label", str(folder), "-q"])}
        for workers in (1, 2):
            rows[f"kerasser label --runner beam (DirectRunner, {workers} worker{'s' if workers > 1 else ''})"] = timed(
                ["label", "--runner", "beam", str(folder), "--out", f"{tmp}/beam{workers}/rows", "-q",
                 "--beam-option", f"direct_num_workers={workers}"])
    print(f"cores: {os.cpu_count()}; {len(wavs)} EmoDB files of 2 s; wall time including start-up")
    print(f"{'command':<58} {'s':>6} {'files/s':>8} {'vs label':>9}")
    base = rows["kerasser label"]
    for name, seconds in rows.items():
        print(f"{name:<58} {seconds:>6.1f} {len(wavs) / seconds:>8.1f} {base / seconds:>8.2f}x")


if __name__ == "__main__":
    main()
