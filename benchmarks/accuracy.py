"""Accuracy of the paper and default recipes, and an ablation row per ingredient, beside PROTOCOL.md's peers.

    python benchmarks/accuracy.py --configs paper,default --seeds 0,1,2          # EmoDB fixed split
    python benchmarks/accuracy.py --configs default --protocol loso --seeds 0     # EmoDB LOSO
    python benchmarks/accuracy.py --report                                        # table of all finished runs

Every configuration is a recipe plus overrides, resolved by ``kerasser.training.recipes.build_train_config``
(the same builder ``kerasser train`` uses), trained on tasks a, v, d, e. Fixed split: train on
PROTOCOL.md's train speakers, pick the epoch by mean dev UAR, score the test speakers once, and
score the same model's arousal on BAVED's test split (another language: the cross-corpus check).
LOSO: ``kerasser.evaluate.crossval`` with one fold per EmoDB speaker (dev speakers drawn from the others),
pooled UAR over all folds. Runs live under ``--runs`` (one folder per configuration, protocol and
seed) and are reused when finished with the same configuration, so the script can be stopped,
rerun and extended; ``--jobs 2`` trains two runs at a time (one CPU thread each).
The table (mean ± sd over seeds) is printed and written to ``--table``. Each finished run's scores
(not its weights) are also kept in ``--records`` (committed), so the table survives a fresh checkout.
"""


from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its parts: accuracy_configs, _runs, _report

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from accuracy_configs import CONFIGS, HELD_OUT, PEERS, TASKS, TEACHERS, train_config  # noqa: E402,F401
from accuracy_report import collect, report, seed_triples  # noqa: E402,F401
from accuracy_runs import (  # noqa: E402,F401
    exit_with_parent,
    keep_record,
    loso_ensemble_from_records,
    run_ensemble,
    run_fixed,
    run_loso,
    run_loso_ensemble,
)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.environ.get("KERASSER_SHARED", "../shared") + "/data")
    parser.add_argument("--configs", default="paper,default", help=f"comma-separated, of: {', '.join(CONFIGS)}")
    parser.add_argument("--protocol", choices=["fixed", "loso"], default="fixed")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at a time (each on one CPU thread)")
    parser.add_argument("--runs", default="runs/accuracy")
    parser.add_argument("--table", default="benchmarks/results/accuracy.md")
    parser.add_argument("--records", default="benchmarks/results/accuracy_runs",
                        help="finished runs' scores, one JSON each (the table is made from these)")
    parser.add_argument("--report", action="store_true", help="only print the table of the runs already finished")
    args = parser.parse_args()

    if not args.report:
        names = [n.strip() for n in args.configs.split(",") if n.strip()]
        unknown = [n for n in names if n not in CONFIGS]
        if unknown:
            parser.error(f"unknown configuration(s) {', '.join(unknown)}; known: {', '.join(CONFIGS)}")
        work = [(n, int(s)) for n in names for s in args.seeds.split(",")]
        if args.jobs > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=exit_with_parent, initargs=(os.getpid(),)) as pool:
                if args.protocol == "fixed":
                    futures = [pool.submit(run_fixed, n, s, args) for n, s in work]
                else:  # the folds of each run spread over the workers
                    futures = [pool.submit(run_loso, n, s, args, part, args.jobs)
                               for n, s in work for part in range(args.jobs)]
                for future in futures:
                    future.result()
            if args.protocol == "loso":  # every fold is done: write each crossval.json
                for n, s in work:
                    run_loso(n, s, argparse.Namespace(**{**vars(args), "jobs": 1}))
        else:
            for n, s in work:
                print(f"== {n} {args.protocol} seed {s}", file=sys.stderr, flush=True)
                (run_fixed if args.protocol == "fixed" else run_loso)(n, s, args)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    text = "\n".join([
        "# Accuracy: paper recipe, default recipe and ablations beside PROTOCOL.md's peers",
        "",
        f"Last command: `python {' '.join(shlex.quote(a) for a in sys.argv)}`  ",
        f"Commit {commit or 'unknown'}, {time.strftime('%Y-%m-%d')}, {os.cpu_count()}-core CPU machine, tasks "
        "emotion + arousal + valence + dominance in one model. Rows appear as their runs finish.",
        "",
        report(args),
        "",
    ])
    Path(args.table).parent.mkdir(parents=True, exist_ok=True)
    Path(args.table).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
