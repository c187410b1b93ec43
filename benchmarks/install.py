"""Install kerasser the ordinary way and measure it: a wheel built from this repo, installed into
fresh virtual environments, once as the base install (labelling with LiteRT, no TensorFlow) and
once with the ``train`` extra. Prints, per install, the time ``pip install`` took, the size of the
virtual environment (pip included), and checks that ``kerasser label examples/`` gives a
row per clip (and, for the base install, that ``kerasser train`` names the extra to install).

    python benchmarks/install.py                   # both installs
    python benchmarks/install.py --extras base     # the base install only

Times depend on the machine and on what pip finds in its cache: compare the two installs of one
run, and name the machine beside the figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def build_wheel(out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(out)], check=True)
    return next(out.glob("kerasser-*.whl"))


def install(wheel: Path, extra: str, where: Path) -> dict:
    venv = where / f"venv-{extra}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip, kerasser = venv / "bin" / "pip", venv / "bin" / "kerasser"
    spec = f"{wheel}[{extra}]" if extra != "base" else str(wheel)
    start = time.perf_counter()
    subprocess.run([str(pip), "install", "-q", spec], check=True, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    label = subprocess.run([str(kerasser), "label", "examples/"], cwd=REPO, capture_output=True, text=True)
    rows = [line for line in label.stdout.splitlines()[1:] if line]
    clips = sorted(p for p in (REPO / "examples").iterdir() if p.suffix == ".wav")
    result = {
        "extra": extra,
        "seconds": seconds,
        "venv_mb": size(venv) / 1e6,
        "label_ok": label.returncode == 0 and len(rows) == len(clips),
    }
    if extra == "base":
        train = subprocess.run([str(kerasser), "train", "--corpus", "emodb", "--data", "nowhere", "--out",
                                str(where / "run")], capture_output=True, text=True)
        result["train_message"] = train.stderr.strip().splitlines()[-1] if train.stderr.strip() else ""
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--extras", default="base,train", help="comma-separated: base, train")
    args = parser.parse_args()
    where = Path(tempfile.mkdtemp(prefix="kerasser-install-"))
    try:
        wheel = build_wheel(where / "dist")
        print(f"wheel: {wheel.name}, {wheel.stat().st_size / 1e6:.1f} MB (the shipped model's serving files inside)")
        print(f"{'install':<28} {'pip install':>12} {'virtual env':>12}  label examples/")
        for extra in args.extras.split(","):
            r = install(wheel, extra, where)
            name = "kerasser (base)" if extra == "base" else f"kerasser[{extra}]"
            print(f"{name:<28} {r['seconds']:>10.0f} s {r['venv_mb']:>9.0f} MB  "
                  f"{'a row per clip' if r['label_ok'] else 'FAILED'}")
            if "train_message" in r:
                print(f"  kerasser train there: {r['train_message']}")
    finally:
        shutil.rmtree(where, ignore_errors=True)
    print(f"machine: {os.cpu_count()} CPU cores; pip cache as found")


if __name__ == "__main__":
    main()
