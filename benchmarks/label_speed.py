"""Speed of ``kerasser label`` as a whole process, and of the exported models per clip.

    python benchmarks/label_speed.py [--model exported/emodb-avde] [--data ../shared/data] \
        [--backends tflite,keras] [--repeats 30] [--baseline OTHER_MODEL_FOLDER]

For each corpus folder (EmoDB's 535 clips, BAVED's 1,935) and each backend, runs
``kerasser label DIR`` in a subprocess (start-up included) and reports files per second, the real-time
factor (seconds of audio labelled per wall second), the time to the first row on stdout and the
peak resident memory of the process. Then times one forward pass of each TFLite variant on a 2-second
clip (median of --repeats, after a warm-up) and lists the model files' sizes. With ``--baseline``,
the other model is measured the same way in the same run, and the speed ratios (model / baseline)
are printed: figures from one run on one machine, comparable with each other. To compare with the
model shipped at an earlier commit:

    git archive COMMIT exported/emodb-avde | tar -x -C /tmp/old
    python benchmarks/label_speed.py --baseline /tmp/old/exported/emodb-avde
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def label_run(model: Path, folder: Path, backend: str) -> dict:
    """Run ``kerasser label`` on ``folder``; measure wall time, first row, peak RSS."""
    cmd = [sys.executable, "-m", "kerasser_cli", "label", str(folder), "--model", str(model), "--backend", backend]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines, first = [], None
    for line in proc.stdout:
        lines.append(line)
        if first is None and len(lines) == 2:  # header, then the first row
            first = time.perf_counter() - start
    proc.wait()
    wall = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rows = list(csv.DictReader(io.StringIO("".join(lines))))
    audio = sum(float(r["duration"] or 0) for r in rows)
    return {
        "files": len(rows),
        "failed": sum(1 for r in rows if r["error"]),
        "wall": wall,
        "first_row": first,
        "files_per_s": len(rows) / wall,
        "rtf": audio / wall,
        # ru_maxrss of children is the largest child so far: report it only if this run raised it
        "peak_mb": peak_kb / 1024 if peak_kb > before else float("nan"),
        "exit": proc.returncode,
    }


def clip_latency(model: Path, variant: str, repeats: int) -> float:
    from kerasser.serve.inference import load_exported

    m = load_exported(model, backend="tflite", variant=variant)
    wave = (np.random.default_rng(0).standard_normal(32000) * 0.1).astype(np.float32)
    m.predict(wave)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        m.predict(wave)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def measure(model: Path, args) -> dict:
    print(f"model {model}, {os.cpu_count()} CPU cores")
    print(f"{'folder':<12} {'backend':<7} {'files':>5} {'failed':>6} {'wall s':>7} {'files/s':>8} "
          f"{'x real time':>11} {'first row s':>11} {'peak MB':>8}")
    results = {}
    for backend in args.backends.split(","):
        for corpus in args.corpora.split(","):
            r = results[(backend, corpus)] = label_run(model, args.data / corpus, backend)
            print(f"{corpus:<12} {backend:<7} {r['files']:>5} {r['failed']:>6} {r['wall']:>7.1f} "
                  f"{r['files_per_s']:>8.1f} {r['rtf']:>11.1f} {r['first_row']:>11.2f} {r['peak_mb']:>8.0f}",
                  flush=True)
    print()
    print(f"{'file':<24} {'size MB':>8} {'ms per 2 s clip':>16}")
    for path in sorted(model.glob("*.tflite")):
        variant = path.stem.removeprefix("model").removeprefix("_") or "float32"
        ms = results[path.name] = 1000 * clip_latency(model, variant, args.repeats)
        print(f"{path.name:<24} {path.stat().st_size / 1e6:>8.2f} {ms:>16.1f}")
    for path in sorted(model.glob("*.keras")):
        print(f"{path.name:<24} {path.stat().st_size / 1e6:>8.2f}")
    print()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="exported/emodb-avde", type=Path)
    parser.add_argument("--baseline", default=None, type=Path, help="another exported model, measured in the same run")
    parser.add_argument("--data", default=os.environ.get("KERASSER_SHARED", "../shared") + "/data", type=Path)
    parser.add_argument("--corpora", default="emodb/wav,baved")
    parser.add_argument("--backends", default="tflite,keras")
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    new = measure(args.model, args)
    if args.baseline is None:
        return
    old = measure(args.baseline, args)
    print(f"speed ratio {args.model} / {args.baseline} (same run, same machine):")
    for key, r in new.items():
        if key in old:
            if isinstance(r, dict):
                print(f"  label {key[1]:<10} {key[0]:<7} {r['rtf'] / old[key]['rtf']:>5.2f}x")
            else:
                print(f"  {key:<24} per clip {old[key] / r:>5.2f}x")


if __name__ == "__main__":
    main()
