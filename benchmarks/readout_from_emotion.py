"""Each dimension head against the emotion head's probabilities summed per level (PROTOCOL.md's table).

    python benchmarks/readout_from_emotion.py runs/accuracy/v5/fixed/seed3 ... runs/accuracy/v5/fixed/seed8

For every run (a model with the emotion task and its own arousal / valence / dominance heads) and its
corpus's dev and test splits: the UAR of each dimension as its head predicts it, and as the emotion
head gives it when its probabilities are summed over the emotions of each level
(``kerasser.tasks.emotion_groups``, what ``--from-emotion`` trains). This chose dominance for the
``v5+d-from-emotion`` row of ``benchmarks/accuracy.py`` (on dev; test printed once beside it).
"""

from __future__ import annotations

import argparse
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DIMENSIONS = ("arousal", "valence", "dominance")


def readout(run: str) -> dict:
    """{split: {task: (head UAR, emotion-summed UAR)}} of one run."""
    from kerasser.evaluate.run import split_predictions
    from kerasser.metrics import task_report
    from kerasser.model.layers import ClassGrouping
    from kerasser.tasks import emotion_groups

    result = {}
    for split, (labels, probs) in split_predictions(run, ("emotion", *DIMENSIONS)).items():
        result[split] = {}
        for task in DIMENSIONS:
            summed = np.asarray(ClassGrouping(emotion_groups(task), 3)(probs["emotion"]))  # as --from-emotion does
            result[split][task] = tuple(task_report(task, labels[task], p.argmax(1))["uar"]
                                        for p in (probs[task], summed))
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()
    results = [readout(run) for run in args.runs]
    print("UAR in %: the task's own head / the emotion head summed per level")
    print(f"{'run':<40} {'split':<5} " + " ".join(f"{t:>15}" for t in DIMENSIONS))
    for run, result in zip(args.runs, results):
        for split, tasks in result.items():
            print(f"{run:<40} {split:<5} " + " ".join(f"{h:6.1f} / {s:5.1f}" for h, s in tasks.values()))
    for split in ("dev", "test"):
        gains = {t: [r[split][t][1] - r[split][t][0] for r in results] for t in DIMENSIONS}
        print(f"mean change from the head to the summed emotion, {split}: "
              + ", ".join(f"{t} {np.mean(g):+.1f} (better on {sum(x > 0 for x in g)} of {len(g)})"
                          for t, g in gains.items()))


if __name__ == "__main__":
    main()
