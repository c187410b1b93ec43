"""Adapting a model to a user's own recordings: a learning curve on a corpus the model never heard.

    python benchmarks/fine_tuning.py --per-class 25 --seeds 0,1,2                 # one point, 3 seeds
    python benchmarks/fine_tuning.py --per-class 10,25,50,all --seeds 0 --systems svm
    python benchmarks/fine_tuning.py --report

The user's clips are ``--per-class`` clips of each emotion drawn (seeded) from the target corpus'
train speakers (RAVDESS by default: English actors the EmoDB-trained shipped model never heard),
written as a manifest CSV as a user would write one, with the target's dev speakers to pick the
epoch (or C) and its test speakers to score. Three systems learn from exactly those clips:

- ``finetune``: ``kerasser train --init-from START --freeze FREEZE --lr LR --epochs N`` (START:
  the shipped ``emodb-avde`` by default; its heads over other classes made anew);
- ``scratch``: the default recipe from random weights;
- ``svm``: PROTOCOL.md's openSMILE eGeMAPS + linear SVM, C picked on the dev speakers
  (``benchmarks/opensmile_peer.py``'s features and fit; needs ``pip install opensmile``).

Scores: emotion UAR over the target's own classes and the 4-class common UAR on its test speakers.
Runs live under ``--runs`` and resume; records (scores only) go to ``--records``, the table (mean
± sd over seeds) to ``--table``.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

SYSTEMS = ("finetune", "scratch", "svm")
TASKS = ("emotion", "arousal", "valence", "dominance")
_HERE = Path(__file__).resolve().parent


def subset(utterances, per_class: int | None, seed: int):
    """Up to ``per_class`` train-split utterances of each emotion (all with None), drawn seeded,
    plus every dev and test utterance."""
    rng = np.random.default_rng(seed)
    chosen = [u for u in utterances if u.split in ("dev", "test")]
    train = [u for u in utterances if u.split == "train" and "emotion" in u.labels]
    for label in sorted({u.labels["emotion"] for u in train}):
        pool = [u for u in train if u.labels["emotion"] == label]
        keep = pool if per_class is None else [pool[i] for i in sorted(rng.permutation(len(pool))[:per_class])]
        chosen += keep
    return chosen


def write_manifest(path: Path, utterances) -> Path:
    """A manifest CSV of ``utterances`` (path, speaker, split, class names), as a user writes one."""
    from kerasser.tasks import TASKS as SPECS

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "speaker", "split", *TASKS])
        for u in utterances:
            writer.writerow([u.path, f"{u.corpus}:{u.speaker}", u.split,
                             *(SPECS[t].classes[u.labels[t]] if t in u.labels else "" for t in TASKS)])
    return path


def run_network(system: str, manifest: Path, out: Path, seed: int, args) -> dict:
    """Train (or resume) the fine-tuned or from-scratch model on the manifest; its test scores."""
    from kerasser.evaluate.run import evaluate_run
    from kerasser.training.loop import train
    from kerasser.training.recipes import build_train_config
    from kerasser.training.runs import RunPaths, read_state

    extra = {}
    if system == "finetune":  # from trained weights: a lower learning rate and a shorter schedule
        extra = dict(init_from=args.start, freeze=args.freeze, learning_rate=args.lr, epochs=args.epochs,
                     patience=args.epochs)
    config = build_train_config(corpora=(("manifest", str(manifest)),), out=str(out), tasks=TASKS, seed=seed,
                                **extra)
    state = read_state(RunPaths(out))
    if not (state and (state["epoch"] >= config.epochs or state["wait"] >= config.patience)):
        train(config, resume=state is not None)
    return {split: evaluate_run(out, split, write_report=False)["per_corpus"]["manifest"] for split in ("test", "dev")}


def run_svm(utterances, args) -> dict:
    """The openSMILE peer on the same clips: a linear SVM on the train rows, C on the dev rows."""
    spec = importlib.util.spec_from_file_location("opensmile_peer", _HERE / "opensmile_peer.py")
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    from kerasser.data.label_space import corpus_classes
    from kerasser.evaluate.corpus_scores import corpus_reports
    from kerasser.tasks import EMOTION

    every = [u for u in peer.read_corpus(args.target, str(Path(args.data) / args.target))]
    x_all = peer.egemaps(args.target, [u.path for u in every], Path(args.cache))
    row = {u.path: i for i, u in enumerate(every)}
    clips = [u for u in utterances if "emotion" in u.labels]
    x = x_all[[row[u.path] for u in clips]]
    y = np.asarray([u.labels["emotion"] for u in clips])
    split = np.asarray([u.split for u in clips])
    scaler, model, _ = peer.fit_on_dev(x, y, split, "linear", "balanced")
    test = split == "test"
    scores = model.decision_function(scaler.transform(x[test]))
    probabilities = np.full((test.sum(), EMOTION.num_classes), -np.inf)
    probabilities[:, model.classes_] = scores  # one column per vocabulary class; absent ones never win
    tested = [u for u, t in zip(clips, test) if t]
    predictions = {"emotion": {"paths": [u.path for u in tested], "labels": y[test].tolist(),
                               "probabilities": probabilities.tolist()}}
    return corpus_reports(predictions, {u.path: "manifest" for u in tested},
                          {"manifest": corpus_classes(every)[args.target]})["manifest"]


def table(args) -> str:
    records: dict[tuple[str, str], list[dict]] = {}
    for file in sorted(Path(args.records).glob("*.json")):
        r = json.loads(file.read_text())
        records.setdefault((r["system"], str(r["per_class"])), []).append(r)
    points = sorted({k[1] for k in records}, key=lambda p: (p == "all", int(p) if p.isdigit() else 0))
    lines = [f"Target: {args.target} (finetune: from {args.start}, freeze {args.freeze}, lr {args.lr:g}, "
             f"{args.epochs} epochs; scratch: the default recipe); "
             "UAR % on its test speakers, mean ± sd over seeds (n).", "",
             "| system | clips per class | emotion (own classes) | 4-class common | dev: emotion | dev: 4-class |",
             "|---|---|---|---|---|---|"]
    for point in points:
        for system in SYSTEMS:
            runs = records.get((system, point))
            if runs:
                cells = [_cell([(r.get(split) or {}).get(k) for r in runs])
                         for split in ("scores", "dev") for k in ("emotion", "emotion_common")]
                lines.append(f"| {system} | {point} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(values) -> str:
    """Mean ± sd (n) of the values present; blank without any (the SVM's dev scores are not kept)."""
    values = [v for v in values if v is not None]
    return f"{np.mean(values):.1f} ± {np.std(values):.1f} ({len(values)})" if values else ""


def _options(parser, args) -> str:
    """The options of ``args`` that differ from their defaults, as a command line's tail."""
    keys = ("target", "start", "freeze", "lr", "epochs", "records", "table")
    return "".join(f" --{k} {getattr(args, k)}" for k in keys if getattr(args, k) != parser.get_default(k))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="ravdess")
    parser.add_argument("--start", default="emodb-avde", help="the model fine-tuning starts from (--init-from)")
    parser.add_argument("--freeze", default="frontend", choices=("none", "frontend", "encoder"))
    parser.add_argument("--lr", type=float, default=3e-4, help="fine-tuning's peak learning rate")
    parser.add_argument("--epochs", type=int, default=30, help="fine-tuning's epochs (from scratch: the recipe's)")
    parser.add_argument("--per-class", default="25", help="comma-separated clip counts per class, or all")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--cache", default="runs/opensmile")
    parser.add_argument("--runs", default="runs/fine_tuning")
    parser.add_argument("--records", default="benchmarks/results/fine_tuning_runs")
    parser.add_argument("--table", default="benchmarks/results/fine_tuning.md")
    parser.add_argument("--report", action="store_true")
    args = parser.parse_args(argv)
    if not args.report:
        from kerasser.data.corpora import read_corpus

        data = Path(args.data).expanduser().resolve()  # one spelling of each path (the feature cache)
        args.data = str(data)
        utterances = read_corpus(args.target, data / args.target)
        for point in (p.strip() for p in args.per_class.split(",") if p.strip()):
            for seed in (int(s) for s in args.seeds.split(",")):
                chosen = subset(utterances, None if point == "all" else int(point), seed)
                manifest = write_manifest(Path(args.runs) / "data" / f"{args.target}-{point}-seed{seed}.csv", chosen)
                for system in (s.strip() for s in args.systems.split(",") if s.strip()):
                    dev = None
                    if system == "svm":
                        scores = run_svm(chosen, args)
                    else:
                        scored = run_network(system, manifest, Path(args.runs) / f"{system}-{point}-seed{seed}",
                                             seed, args)
                        scores, dev = scored["test"], scored["dev"]
                    record = {"system": system, "per_class": point, "seed": seed, "target": args.target,
                              "start": args.start, "freeze": args.freeze, "lr": args.lr, "scores": scores,
                              "dev": dev}
                    file = Path(args.records) / f"{system}.{point}.seed{seed}.json"
                    file.parent.mkdir(parents=True, exist_ok=True)
                    file.write_text(json.dumps(record, indent=2) + "\n")
                    print(f"{system} {point} per class, seed {seed}: {scores}", file=sys.stderr)
    text = table(args)
    Path(args.table).write_text("# Fine-tuning on a corpus the model never heard "
                                f"(`python benchmarks/fine_tuning.py --report{_options(parser, args)}`)\n\n"
                                + text + "\n")
    print(text)


if __name__ == "__main__":
    main()
