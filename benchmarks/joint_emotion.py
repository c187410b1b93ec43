"""Emotion read jointly off the emotion head and the dimension heads (a product of experts).

    python benchmarks/joint_emotion.py runs/accuracy/v5/fixed/seed3 ... runs/accuracy/v5/fixed/seed8
    python benchmarks/joint_emotion.py --pool runs/accuracy/v5/loso/seed0/fold-*

EmoDB's arousal, valence and dominance labels are functions of its emotion label (PROTOCOL.md's
table, ``kerasser.tasks.EMOTION_LEVELS``), so each dimension head is a second opinion on the emotion:
valence tells happiness (high) from anger (low), which the emotion head confuses. Joint emotion:

    p(e | x)  proportional to  p_emotion(e | x) * prod_t p_t(level_t(e) | x) ** weight

over the dimension heads t a run has (a head the saved model reads off the emotion head is left
out). For every run and its corpus's dev and test splits this prints the emotion UAR of the emotion
head alone and of each product; ``--pool`` adds the UAR of the runs' test predictions pooled (the
runs are the folds of one leave-one-speaker-out seed). Nothing here is chosen on test: the weight
and the heads a product uses are read off dev.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DIMENSIONS = ("arousal", "valence", "dominance")
PRODUCTS = (("valence",), ("arousal", "valence"), ("arousal", "valence", "dominance"))
WEIGHTS = (0.5, 1.0, 2.0)


def probabilities(run: str) -> dict:
    """{split: {"labels": emotion labels, task: probabilities}} of one run's dev and test splits."""
    from kerasser.evaluate.run import split_predictions
    from kerasser.training.runs import load_best_model, load_config

    config = load_config(run)
    model = load_best_model(run)
    own = [t for t in DIMENSIONS if t in model.output_names and t not in config.model.readout_tasks]
    result = {}
    for split, (labels, probs) in split_predictions(run, ("emotion", *own), model=model).items():
        result[split] = {"labels": labels["emotion"], **probs}
    return result


def joint(probs: dict, heads: tuple[str, ...], weight: float) -> np.ndarray:
    """Log of the product of experts (unnormalised), one row per utterance."""
    from kerasser.tasks import emotion_groups

    log = np.log(np.clip(probs["emotion"], 1e-7, 1.0))
    for task in heads:
        log = log + weight * np.log(np.clip(probs[task][:, list(emotion_groups(task))], 1e-7, 1.0))
    return log


def uar(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import recall_score

    return 100 * recall_score(labels, scores.argmax(1), average="macro", labels=np.unique(labels))


def variants(probs: dict) -> dict[str, tuple[tuple[str, ...], float]]:
    names = {"head": ((), 1.0)}
    for heads in PRODUCTS:
        if all(t in probs for t in heads):
            for w in WEIGHTS:
                names[f"x{''.join(t[0] for t in heads)}^{w:g}"] = (heads, w)
    return names


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--pool", action="store_true", help="also pool the runs' test predictions")
    args = parser.parse_args()
    results = [probabilities(run) for run in args.runs]
    names = variants(results[0]["test"])
    for r in results[1:]:
        names = {n: v for n, v in names.items() if n in variants(r["test"])}
    print("emotion UAR in %: the emotion head, and its product with the dimension heads named "
          "(a = arousal, v = valence, d = dominance) at the weight after ^")
    print(f"{'run':<40} {'split':<5} " + " ".join(f"{n:>8}" for n in names))
    table = {split: [] for split in ("dev", "test")}
    for run, result in zip(args.runs, results):
        for split, probs in result.items():
            row = [uar(probs["labels"], joint(probs, *names[n])) for n in names]
            table[split].append(row)
            print(f"{run:<40} {split:<5} " + " ".join(f"{x:8.1f}" for x in row))
    for split, rows in table.items():
        rows = np.array(rows)
        print(f"{'mean over runs':<40} {split:<5} " + " ".join(f"{x:8.1f}" for x in rows.mean(0)))
        better = (rows[:, 1:] > rows[:, :1]).sum(0)
        print(f"{'runs above the head':<40} {split:<5} {'':>8} " + " ".join(f"{f'{b}/{len(rows)}':>8}" for b in better))
    if args.pool:
        labels = np.concatenate([r["test"]["labels"] for r in results])
        row = [uar(labels, np.concatenate([joint(r["test"], *names[n]) for r in results])) for n in names]
        print(f"{'pooled test':<40} {'test':<5} " + " ".join(f"{x:8.1f}" for x in row))


if __name__ == "__main__":
    main()
