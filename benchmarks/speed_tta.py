"""Test-time speed augmentation: a run's predictions averaged over speed-perturbed copies of each clip.

    python benchmarks/speed_tta.py runs/accuracy/default/fixed/seed0 ... runs/accuracy/default/fixed/seed5
    python benchmarks/speed_tta.py --pool runs/accuracy/default/loso/seed0/fold-*

The default recipe trains on clips resampled by 0.9, 1.0 or 1.1 (``kerasser.data.augment.speed_perturb``).
At test time the same copies can be scored and their probabilities averaged, as an ensemble of one
model over three inputs (3x the inference time). For every run and its corpus's dev and test splits
this prints each task's UAR for the clip alone and for the average over each set of factors;
``--pool`` adds the runs' test predictions pooled (the folds of one leave-one-speaker-out seed).
Chosen on dev, never on test.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TASKS = ("emotion", "arousal", "valence", "dominance")
FACTOR_SETS = ((1.0,), (0.95, 1.0, 1.05), (0.9, 1.0, 1.1))


def probabilities(run: str) -> dict:
    """{split: {"labels": {task: labels}, factor: {task: probabilities}}} of one run's dev and test splits."""
    import tensorflow as tf

    from kerasser.data import dataset as data
    from kerasser.data.augment import speed_perturb
    from kerasser.data.corpora import read_corpora, select
    from kerasser.data.examples import DecodeLog, ExampleSettings
    from kerasser.metrics import predict
    from kerasser.training.runs import load_best_model, load_config

    config = load_config(run)
    model = load_best_model(run)
    rate = config.model.audio.sample_rate
    tasks = tuple(t for t in TASKS if t in model.output_names)
    utterances = read_corpora(config.corpora[:1], config.speaker_splits)
    result = {}
    for split in ("dev", "test"):
        chosen = select(utterances, split, tasks)
        decoded = data.decoded(chosen, ExampleSettings(tasks, rate), DecodeLog(None))
        spec, clips = decoded.element_spec, list(decoded.as_numpy_iterator())
        result[split] = {}
        for factor in sorted({f for s in FACTOR_SETS for f in s}):

            def generate(factor=factor, clips=clips):
                for inputs, labels, weights in clips:
                    w = inputs["waveform"] if factor == 1.0 else speed_perturb(inputs["waveform"], factor, rate)
                    yield {"waveform": w.astype(np.float32), "length": np.int32(len(w))}, labels, weights

            examples = tf.data.Dataset.from_generator(generate, output_signature=spec)
            labels, probs, _ = predict(model, data.batched(examples, 16, training=False), tasks)
            result[split]["labels"] = labels
            result[split][factor] = probs
    return result


def uar(labels: np.ndarray, probs: np.ndarray) -> float:
    from sklearn.metrics import recall_score

    return 100 * recall_score(labels, probs.argmax(1), average="macro", labels=np.unique(labels))


def averaged(split: dict, factors: tuple[float, ...], task: str) -> np.ndarray:
    return np.mean([split[f][task] for f in factors], axis=0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--pool", action="store_true", help="also pool the runs' test predictions")
    args = parser.parse_args()
    results = [probabilities(run) for run in args.runs]
    tasks = [t for t in TASKS if all(t in r["test"]["labels"] for r in results)]
    sets = ["/".join(f"{f:g}" for f in s) for s in FACTOR_SETS]
    print("UAR in %, per task, for each set of speed factors whose probabilities are averaged "
          f"({' | '.join(sets)}); mean: over the tasks")
    print(f"{'run':<40} {'split':<5} " + " ".join(f"{t:>20}" for t in [*tasks, "mean"]))
    table = {"dev": [], "test": []}
    for run, result in zip(args.runs, results):
        for split in ("dev", "test"):
            cells = np.array([[uar(result[split]["labels"][t], averaged(result[split], s, t)) for s in FACTOR_SETS]
                              for t in tasks])  # [task, factor set]
            cells = np.vstack([cells, cells.mean(0)])
            table[split].append(cells)
            print(f"{run:<40} {split:<5} " + " ".join(" / ".join(f"{x:5.1f}" for x in row) for row in cells))
    for split, rows in table.items():
        rows = np.array(rows)
        print(f"{'mean over runs':<40} {split:<5} " + " ".join(" / ".join(f"{x:5.1f}" for x in row) for row in rows.mean(0)))
        better = (rows[:, -1, 1:] > rows[:, -1, :1]).sum(0)
        print(f"{'runs whose task mean is above 1.0 alone':<40} {split:<5} " + ", ".join(
            f"{s}: {b} of {len(rows)}" for s, b in zip(sets[1:], better)))
    if args.pool:
        cells = []
        for t in tasks:
            labels = np.concatenate([r["test"]["labels"][t] for r in results])
            cells.append([uar(labels, np.concatenate([averaged(r["test"], s, t) for r in results])) for s in FACTOR_SETS])
        cells = np.vstack([cells, np.mean(cells, 0)])
        print(f"{'pooled test':<40} {'test':<5} " + " ".join(" / ".join(f"{x:5.1f}" for x in row) for row in cells))


if __name__ == "__main__":
    main()
