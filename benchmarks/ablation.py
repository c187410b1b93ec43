"""The structure of Zhang et al.'s Table 1 on EmoDB's fixed split, plus arousal on BAVED.

    python benchmarks/ablation.py [--data ../shared/data] [--epochs 60] [--seeds 0] \
        [--runs runs/ablation] [--table benchmarks/results/ablation.md]

Rows: e2e single-task with last-step pooling (STL), single-task with attention (STL+att), one
multi-task model for arousal/valence/dominance with last-step pooling (MTL) and with attention
(MTL+att); columns: dev and test UAR (%) per task on the PROTOCOL.md split. BAVED rows train
arousal alone. Each run is an ordinary ``kerasser.training.train`` run folder under ``--runs``;
finished runs are reused and interrupted ones resumed, so the script can be stopped and rerun.
With several seeds the cells are mean ± sd. The table is printed and written to ``--table``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

AVD = ("arousal", "valence", "dominance")
ROWS = (("STL", False, False), ("STL+att", False, True), ("MTL", True, False), ("MTL+att", True, True))


def planned_runs(corpus: str):
    """(row, run name, tasks, attention) for one corpus."""
    tasks = AVD if corpus == "emodb" else ("arousal",)
    for row, multitask, attention in ROWS:
        if multitask and len(tasks) == 1:
            continue
        pool = "att" if attention else "last"
        if multitask:
            yield row, f"{corpus}_mtl_{pool}", tasks, attention
        else:
            for t in tasks:
                yield row, f"{corpus}_stl_{t}_{pool}", (t,), attention


def run_one(name, corpus, path, tasks, attention, args, seed) -> dict:
    """Train (or reuse/resume) one run and return its dev/test UAR per task."""
    from kerasser.config import ModelConfig, TrainConfig
    from kerasser.run_evaluation import evaluate_run
    from kerasser.runs import RunPaths, read_state
    from kerasser.training import train

    out = Path(args.runs) / f"{name}_seed{seed}"
    scores_file = out / "ablation_scores.json"
    if scores_file.exists():
        return json.loads(scores_file.read_text())
    config = TrainConfig(
        corpora=((corpus, str(path)),),
        out=str(out),
        model=ModelConfig(tasks=tasks, attention=attention, frontend=args.frontend),
        epochs=args.baved_epochs if corpus == "baved" and args.baved_epochs else args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        patience=args.patience,
        seed=seed,
    )
    state = read_state(RunPaths(out))
    start = time.monotonic()
    result = train(config, resume=state is not None)
    scores = {"best_epoch": result.best_epoch, "epochs": result.epochs_done,
              "train_seconds": round(time.monotonic() - start)}
    for split in ("dev", "test"):
        report = evaluate_run(out, split=split)
        scores[split] = {t: r["uar"] for t, r in report["tasks"].items()}
    scores_file.write_text(json.dumps(scores, indent=2) + "\n")
    return scores


def cell(values: list[float]) -> str:
    if not values:
        return ""
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{np.mean(values):.1f} ± {np.std(values, ddof=1):.1f}"


def table(corpus: str, results: dict, tasks) -> list[str]:
    head = "| " + corpus + " | " + " | ".join(f"{t} dev | {t} test" for t in tasks) + " |"
    lines = [head, "|---" * (1 + 2 * len(tasks)) + "|"]
    for row, _, _ in ROWS:
        if row not in results:
            continue
        cells = []
        for t in tasks:
            for split in ("dev", "test"):
                cells.append(cell([s[split][t] for s in results[row].get(t, [])]))
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("KERASSER_SHARED", "../shared") + "/data")
    parser.add_argument("--corpora", default="emodb,baved")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--baved-epochs", type=int, default=None,
                        help="epochs for BAVED (default: --epochs); it has 3.4x EmoDB's training audio")
    parser.add_argument("--patience", type=int, default=15)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--frontend", default="shared", choices=["shared", "framed"])
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--runs", default="runs/ablation")
    parser.add_argument("--table", default="benchmarks/results/ablation.md")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]

    sections, runs_info = [], []
    for corpus in args.corpora.split(","):
        results: dict = {}
        for row, name, tasks, attention in planned_runs(corpus):
            for seed in seeds:
                print(f"== {name} seed {seed}", file=sys.stderr, flush=True)
                scores = run_one(name, corpus, Path(args.data) / corpus, tasks, attention, args, seed)
                runs_info.append(f"{name} seed {seed}: best epoch {scores['best_epoch']} of "
                                 f"{scores['epochs']}, {scores['train_seconds']} s")
                for t in tasks:
                    results.setdefault(row, {}).setdefault(t, []).append(scores)
        sections.append(table(corpus, results, AVD if corpus == "emodb" else ("arousal",)))

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    text = [
        "# Ablation: pooling and multi-task learning (Zhang et al. 2019, Table 1 structure)",
        "",
        f"Command: `python {' '.join(shlex.quote(a) for a in sys.argv)}`  ",
        f"Commit {commit or 'unknown'}, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPU cores. "
        f"UAR in %, PROTOCOL.md speaker-independent split; checkpoint = best mean dev UAR; "
        f"{args.epochs} epochs max (BAVED {args.baved_epochs or args.epochs}), patience {args.patience}, Adam {args.lr:g}, batch {args.batch_size}, "
        f"{args.frontend} front end, seeds {args.seeds}.",
        "",
    ]
    for lines in sections:
        text += lines + [""]
    text += ["Runs:", ""] + [f"- {r}" for r in runs_info] + [""]
    Path(args.table).parent.mkdir(parents=True, exist_ok=True)
    Path(args.table).write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
