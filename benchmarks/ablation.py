"""Multi-task science on EmoDB's fixed split: Zhang et al.'s Table 1 (STL / STL+att / MTL / MTL+att),
categorical with dimensional tasks, the CTC auxiliary loss and searched loss weights.

    python benchmarks/ablation.py --rows STL,STL+att,MTL,MTL+att --seeds 0,1,2 --jobs 2
    python benchmarks/ablation.py --rows MTL+att+e,MTL+att+e+CTC0.1,auto,agreement --seeds 0,1,2 --jobs 2
    python benchmarks/ablation.py --rows tuned --tuned runs/tune/best_config.json --seeds 0,1,2
    python benchmarks/ablation.py --report

Every run starts from a recipe (``--recipe``) through ``kerasser.training.recipes.build_train_config``, as
``kerasser train`` does. The committed table was made with ``v4``, the fourth default recipe (today's
default with one attention head and no mixup), which stays this script's default so its commands repeat the table. Rows:

  STL        one model per task (a, v, d), last-step pooling (Zhang et al.'s baseline)
  STL+att    one model per task (a, v, d and emotion), attention pooling (the recipe's)
  MTL        one model for a, v, d, last-step pooling
  MTL+att    one model for a, v, d, attention pooling
  MTL+att+e  emotion, a, v and d in one model (categorical with dimensional; the recipe itself:
             ``benchmarks/accuracy.py``'s runs of it are copied from ``--reuse`` when their config matches)
  MTL+att+e+CTC<alpha>  the same plus the CTC auxiliary loss of weight alpha on the transcripts
             (alpha in 0.001, 0.01, 0.1, 1: Cai et al.'s grid; alpha 0 is MTL+att+e)
  auto       MTL+att+e with learned uncertainty loss weights (``--loss-weights auto``)
  agreement  MTL+att+e with listener agreement as sample weights (``--weight-by-agreement``)
  tuned      MTL+att+e with the loss weights of ``--tuned`` (``kerasser tune``'s best_config.json)

Each run picks its epoch by mean dev UAR and is scored once on the test speakers; its scores and
test predictions are kept in ``--records`` (committed) so the table survives a fresh checkout.
Cells are test UAR, mean ± sd over seeds. A mark after a cell compares the row's mean UAR with
the STL row's for that task (STL+att's for emotion, which has no STL row) by the one-tailed
two-proportion z-test of Zhang et al. (``kerasser.evaluate.significance.z_test``, n = test utterances):
* p < 0.05, ** p < 0.01 (better), and (-) where the baseline is better at p < 0.05.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

TASKS = ("arousal", "valence", "dominance", "emotion")  # the table's columns
AVD = TASKS[:3]
EAVD = ("emotion",) + AVD  # the recipe's task order (its runs are the MTL+att+e row)
_LAST = {"attention": False, "pool_statistics": False, "pool_heads": 1}
CTC_WEIGHTS = ("0.001", "0.01", "0.1", "1")

# row -> (one model per task?, tasks of the model(s), overrides)
ROWS: dict[str, tuple[bool, tuple[str, ...], dict]] = {
    "STL": (True, AVD, _LAST),
    "STL+att": (True, TASKS, {}),
    "MTL": (False, AVD, _LAST),
    "MTL+att": (False, AVD, {}),
    "MTL+att+e": (False, EAVD, {}),
    **{f"MTL+att+e+CTC{a}": (False, EAVD, {"ctc_weight": float(a)}) for a in CTC_WEIGHTS},
    "auto": (False, EAVD, {"loss_weights": "auto"}),
    "agreement": (False, EAVD, {"weight_by_agreement": True}),
    "tuned": (False, EAVD, {"tuned": None}),  # the loss weights of --tuned, the rest of the recipe
}


def planned(row: str) -> list[tuple[str, tuple[str, ...]]]:
    """(run name, tasks) of a row's models."""
    single, tasks, _ = ROWS[row]
    if single:
        return [(f"{row}.{t}", (t,)) for t in tasks]
    return [(row, tasks)]


def tuned_weights(path: str | None, tasks) -> tuple[float, ...]:
    """The loss weight of each of ``tasks`` in ``kerasser tune``'s best_config.json (by task name:
    the tuned row keeps the recipe's epochs and everything else, only the weights come from it)."""
    from kerasser.config import load_train_config

    if not path:
        raise SystemExit("the tuned row needs --tuned best_config.json (from kerasser tune)")
    tuned = load_train_config(path)
    if not isinstance(tuned.loss_weights, tuple) or set(tuned.model.tasks) != set(tasks):
        raise SystemExit(f"{path}: no searched loss weights for the tasks {', '.join(tasks)}")
    weights = dict(zip(tuned.model.tasks, tuned.loss_weights))
    return tuple(weights[t] for t in tasks)


DEFAULT_RECIPE = "v4"  # the recipe of the committed table (a kerasser.training.recipes recipe)


def train_config(row: str, name: str, tasks, seed: int, args):
    from kerasser.training.recipes import build_train_config

    recipe = args.recipe
    overrides = dict(ROWS[row][2], epochs=args.epochs)
    if "tuned" in overrides:
        overrides["loss_weights"] = tuned_weights(args.tuned, tasks)
        del overrides["tuned"]
    return build_train_config(
        recipe, corpora=(("emodb", str(Path(args.data) / "emodb")),),
        out=str(Path(args.runs) / name / f"seed{seed}"), tasks=tasks, seed=seed, **overrides,
    )


def reuse_default_run(row: str, config, seed: int, args) -> str | None:
    """Copy ``benchmarks/accuracy.py``'s run of this seed into ``config.out`` when it was trained
    with exactly this configuration (the MTL+att+e row of a recipe is the recipe itself)."""
    source = Path(args.reuse) / f"seed{seed}"
    if row != "MTL+att+e" or Path(config.out).exists() or not (source / "config.json").exists():
        return None
    from kerasser.config import load_train_config, to_dict

    def comparable(c) -> dict:
        d = to_dict(c)
        d.pop("out")
        d["corpora"] = [(name, str(Path(path).resolve())) for name, path in d["corpora"]]
        return d

    if comparable(load_train_config(source / "config.json")) != comparable(config):
        return None
    shutil.copytree(source, config.out)
    return str(source)


def run_one(row: str, name: str, tasks, seed: int, args) -> dict:
    """Train (or reuse / resume) one run; its record (dev and test UAR, test predictions)."""
    if args.jobs > 1:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from kerasser.config import to_dict
    from kerasser.evaluate.run import evaluate_run
    from kerasser.training.loop import train
    from kerasser.training.runs import RunPaths, read_state

    record = Path(args.records) / f"{name}.seed{seed}.json"
    if record.exists():
        return json.loads(record.read_text())
    config = train_config(row, name, tasks, seed, args)
    reused = reuse_default_run(row, config, seed, args)
    state = read_state(RunPaths(Path(config.out)))
    start = time.monotonic()
    done = state and (state["epoch"] >= config.epochs or state["wait"] >= config.patience)
    result = None if done else train(config, resume=state is not None, write=lambda line: None)
    dev = evaluate_run(config.out, "dev", write_report=False)
    test = evaluate_run(config.out, "test", write_report=False)
    scores = {
        "row": row, "config": to_dict(config), "seed": seed,
        "reused": reused,
        "best_epoch": result.best_epoch if result else state["best_epoch"],
        "train_seconds": round(time.monotonic() - start) if result else None,
        "dev": {t: r["uar"] for t, r in dev["tasks"].items()},
        "test": {t: r["uar"] for t, r in test["tasks"].items()},
        "test_files": test["files"],
        "transcript_cer": (test.get("transcript") or {}).get("cer"),
        "predictions": test["predictions"],
    }
    Path(args.records).mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(scores) + "\n")
    return scores


def collect(args, seeds=None) -> dict:
    """{row: {task: [record per seed]}} from ``--records`` (only ``seeds`` when given)."""
    found: dict = {}
    for row in ROWS:
        for name, tasks in planned(row):
            for f in sorted(Path(args.records).glob(f"{name}.seed*.json")):
                record = json.loads(f.read_text())
                if seeds is not None and record["seed"] not in seeds:
                    continue
                for t in tasks:
                    found.setdefault(row, {}).setdefault(t, []).append(record)
    return found


def cell(values) -> str:
    if not values:
        return ""
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{np.mean(values):.1f} ± {np.std(values, ddof=1):.1f}"


def mark(row_uar: float, stl_uar: float, n: int) -> str:
    from kerasser.evaluate.significance import z_test

    _, p = z_test(row_uar, stl_uar, n)
    if p < 0.01:
        return " **"
    if p < 0.05:
        return " *"
    if 1 - p < 0.05:
        return " (-)"
    return ""


def report(args, seeds=None) -> str:
    found = collect(args, seeds)
    lines = ["| row | seeds | " + " | ".join(TASKS) + " | mean dev | CER % |", "|---" * (len(TASKS) + 4) + "|"]
    stl = dict(found.get("STL+att", {}), **found.get("STL", {}))  # per task: STL, else STL+att
    for row in ROWS:
        runs = found.get(row)
        if not runs:
            continue
        cells = []
        for t in TASKS:
            records = runs.get(t, [])
            values = [r["test"][t] for r in records if t in r["test"]]
            text = cell(values)
            baseline = [r["test"][t] for r in stl.get(t, []) if t in r["test"]]
            if values and baseline and records is not stl.get(t):
                text += mark(float(np.mean(values)), float(np.mean(baseline)), records[0]["test_files"])
            cells.append(text)
        seeds = sorted({r["seed"] for records in runs.values() for r in records})
        dev_by_seed: dict = {}  # per seed, the dev UAR of every task (from its own run for STL rows)
        for t, records in runs.items():
            for r in records:
                dev_by_seed.setdefault(r["seed"], []).append(r["dev"][t])
        dev = cell([float(np.mean(v)) for v in dev_by_seed.values()])
        cers = {r["config"]["out"]: r["transcript_cer"] for records in runs.values() for r in records
                if r.get("transcript_cer") is not None}
        cer = cell(list(cers.values()))
        lines.append(f"| {row} | {','.join(map(str, seeds))} | " + " | ".join(cells) + f" | {dev} | {cer} |")
    return "\n".join(lines)


# (question, row A, row B, tasks): the paired comparisons of the write-up, A - B per task
CONTRASTS = (
    ("attention, single task", "STL+att", "STL", AVD),
    ("attention, multi-task", "MTL+att", "MTL", AVD),
    ("multi-task, last step", "MTL", "STL", AVD),
    ("multi-task, attention", "MTL+att", "STL+att", AVD),
    ("emotion added to a, v, d", "MTL+att+e", "MTL+att", AVD),
    ("a, v, d added to emotion", "MTL+att+e", "STL+att", ("emotion",)),
    *((f"CTC alpha {a}", f"MTL+att+e+CTC{a}", "MTL+att+e", TASKS) for a in CTC_WEIGHTS),
    ("learned (auto) loss weights", "auto", "MTL+att+e", TASKS),
    ("searched (tuned) loss weights", "tuned", "MTL+att+e", TASKS),
    ("listener agreement weights", "agreement", "MTL+att+e", TASKS),
)


def contrasts(args, seed: int = 0) -> str:
    """Per contrast and task, one seed: both test UARs, the one-tailed z-test's p (H1: A > B) and
    the 95 % paired bootstrap interval of A - B over the test utterances
    (``kerasser.evaluate.significance.compare_reports``, as ``kerasser compare`` prints it)."""
    from kerasser.evaluate.significance import compare_reports

    found = collect(args, {seed})
    lines = ["| question | A | B | task | UAR A | UAR B | A - B | p (A > B) | 95 % bootstrap CI |", "|---" * 9 + "|"]
    for question, row_a, row_b, tasks in CONTRASTS:
        for t in tasks:
            a, b = (found.get(r, {}).get(t) for r in (row_a, row_b))
            if not a or not b:
                continue
            pa, pb = ({"predictions": {t: r[0]["predictions"][t]}} for r in (a, b))
            r = compare_reports(pa, pb)[t]
            low, high = r["bootstrap_95"]
            lines.append(f"| {question} | {row_a} | {row_b} | {t} | {r['uar_a']:.1f} | {r['uar_b']:.1f} | "
                         f"{r['difference']:+.1f} | {r['p_one_tailed']:.3f} | {low:+.1f} to {high:+.1f} |")
    return "\n".join(lines)


def by_file(predictions: dict) -> dict:
    """{file name: (label, predicted)}: runs made in other checkouts name the same file by other paths."""
    return {Path(p).name: (label, pred) for p, label, pred in
            zip(predictions["paths"], predictions["labels"], predictions["predicted"])}


def seed_contrasts(args) -> str:
    """Per contrast and task, over every seed both rows have (at least two): each seed's A - B, their
    mean, how many seeds favour A, and the 95 % paired bootstrap interval of the mean difference
    over the test utterances (``kerasser.evaluate.significance.bootstrap_seed_mean_difference``)."""
    from kerasser.evaluate.significance import _uar, bootstrap_seed_mean_difference
    from kerasser.tasks import TASKS as ALL_TASKS

    found = collect(args)
    lines = ["| question | A | B | task | seeds | A - B per seed | mean A - B | seeds A > B | 95 % bootstrap CI |",
             "|---" * 9 + "|"]
    for question, row_a, row_b, tasks in CONTRASTS:
        for t in tasks:
            by_seed = [{r["seed"]: by_file(r["predictions"][t]) for r in found.get(row, {}).get(t, [])}
                       for row in (row_a, row_b)]
            seeds = sorted(set(by_seed[0]) & set(by_seed[1]))
            if len(seeds) < 2:
                continue
            files = sorted(set.intersection(*(set(side[s]) for side in by_seed for s in seeds)))
            truth = np.array([by_seed[0][seeds[0]][f][0] for f in files])
            pred_a, pred_b = (np.array([[side[s][f][1] for f in files] for s in seeds]) for side in by_seed)
            classes = ALL_TASKS[t].num_classes
            diffs = [float(_uar(truth, a, classes) - _uar(truth, b, classes)) for a, b in zip(pred_a, pred_b)]
            low, high = bootstrap_seed_mean_difference(truth, pred_a, pred_b, classes)
            lines.append(f"| {question} | {row_a} | {row_b} | {t} | {','.join(map(str, seeds))} | "
                         f"{' / '.join(f'{d:+.1f}' for d in diffs)} | {np.mean(diffs):+.1f} | "
                         f"{sum(d > 0 for d in diffs)} of {len(diffs)} | {low:+.1f} to {high:+.1f} |")
    return "\n".join(lines)


def main():
    from kerasser.training.recipes import RECIPES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("KERASSER_SHARED", "../shared") + "/data")
    parser.add_argument("--rows", default="STL,STL+att,MTL,MTL+att", help=f"comma-separated, of: {', '.join(ROWS)}")
    parser.add_argument("--recipe", default=DEFAULT_RECIPE, choices=list(RECIPES),
                        help="v4: the fourth default (one head, no mixup), which made the committed table")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=None, help="epoch budget (default: the recipe's)")
    parser.add_argument("--tuned", default=None, help="best_config.json of kerasser tune, for the tuned row")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at a time (each on one CPU thread)")
    parser.add_argument("--runs", default="runs/ablation")
    parser.add_argument("--reuse", default=None,
                        help="accuracy.py's runs of the recipe, copied as the MTL+att+e row when their config "
                             "matches (default: runs/accuracy/<recipe>/fixed)")
    parser.add_argument("--records", default="benchmarks/results/ablation_runs")
    parser.add_argument("--table", default="benchmarks/results/ablation.md")
    parser.add_argument("--report", action="store_true", help="only print the table of the finished runs")
    args = parser.parse_args()
    if args.reuse is None:
        args.reuse = f"runs/accuracy/{args.recipe}/fixed"

    if not args.report:
        rows = [r.strip() for r in args.rows.split(",") if r.strip()]
        unknown = [r for r in rows if r not in ROWS]
        if unknown:
            parser.error(f"unknown row(s) {', '.join(unknown)}; known: {', '.join(ROWS)}")
        work = [(row, name, tasks, int(s)) for row in rows for name, tasks in planned(row) for s in args.seeds.split(",")]
        if args.jobs > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
                for future in [pool.submit(run_one, *w, args) for w in work]:
                    future.result()
        else:
            for w in work:
                print(f"== {w[1]} seed {w[3]}", file=sys.stderr, flush=True)
                run_one(*w, args)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    text = "\n".join([
        "# Ablation: multi-task learning, categorical with dimensional, CTC, loss weights (EmoDB fixed split)",
        "",
        f"Last command: `python {' '.join(shlex.quote(a) for a in sys.argv)}`  ",
        f"Commit {commit or 'unknown'}, {time.strftime('%Y-%m-%d')}, {os.cpu_count()}-core CPU machine, recipe "
        f"{args.recipe}. Test UAR in % (mean ± sd over seeds; epoch chosen on mean dev UAR). Marks: "
        "one-tailed z-test against the STL row of the same task (STL+att for emotion) (* p < 0.05, ** p < 0.01; (-) STL better). "
        "Rows appear as their runs finish; the first release's table is `ablation-2026-11-22.md`.",
        "",
        report(args),
        "",
        "Seed 0 alone (every row has it, so rows compare run against run; marks as above):",
        "",
        report(args, seeds={0}),
        "",
        "Paired comparisons, seed 0: the one-tailed z-test's p that A's UAR is higher, and the 95 % paired "
        "bootstrap interval of A - B over the 127 test utterances (`kerasser compare`'s statistics):",
        "",
        contrasts(args, seed=0),
        "",
        "Paired comparisons over seeds (every seed both rows have, at least two): A - B on each seed, their "
        "mean, and the 95 % paired bootstrap interval of the mean over the 127 test utterances (each resample "
        "scores every seed; the interval covers the test utterances' sampling, the per-seed column shows how "
        "much a new seed moves it):",
        "",
        seed_contrasts(args),
        "",
    ])
    Path(args.table).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
