"""Scores: UAR (unweighted average recall), per-class recall and confusion matrices per task.

UAR is the mean of the per-class recalls over the classes that occur in the reference labels
(a corpus without, say, boredom is not penalised for it; predicting an absent class still counts
as an error). Figures are percentages. Utterances without a label for a task (weight 0) are left
out of that task's scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.metrics import confusion_matrix, recall_score

from kerasser.tasks import TASKS, TRANSCRIPT_TARGET, vocabulary_indices
from kerasser.text import greedy_decode


def uar(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """Unweighted average recall in percent over the classes present in ``y_true``."""
    y_true = np.asarray(y_true)
    if y_true.size == 0:
        return float("nan")
    labels = np.unique(y_true)
    return 100.0 * float(recall_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))


def task_report(task: str, y_true: Sequence[int], y_pred: Sequence[int]) -> dict:
    """UAR, per-class recall and support, and the confusion matrix (rows: truth, columns:
    prediction, in ``TASKS[task].classes`` order) for one task."""
    classes = TASKS[task].classes
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    cm = confusion_matrix(y_true, y_pred, labels=list(range(len(classes))))
    support = cm.sum(axis=1)
    recall = {
        c: (100.0 * cm[i, i] / support[i] if support[i] else None) for i, c in enumerate(classes)
    }
    return {
        "uar": uar(y_true, y_pred),
        "accuracy": 100.0 * float(np.mean(y_true == y_pred)) if y_true.size else float("nan"),
        "count": int(y_true.size),
        "classes": list(classes),
        "recall": recall,
        "support": {c: int(s) for c, s in zip(classes, support)},
        "confusion": cm.tolist(),
    }


def predict(model, dataset, tasks: Sequence[str], texts: list[str] | None = None):
    """Run ``model`` over a batched ``(inputs, labels, weights)`` dataset.

    Returns ``(labels, probabilities, weights)``, each ``{task: array}`` over all utterances in
    dataset order. With a ``texts`` list and a model with a CTC head, each utterance's greedy
    transcript is appended to it, in the same order."""
    labels = {t: [] for t in tasks}
    probs = {t: [] for t in tasks}
    weights = {t: [] for t in tasks}
    strategy = getattr(model, "distribute_strategy", None)
    # Under a multi-replica strategy predict_on_batch runs the whole batch on every replica and
    # returns each replica's copy; a plain call runs it once.
    replicated = strategy is not None and strategy.num_replicas_in_sync > 1
    for inputs, y, w in dataset:
        out = model(inputs, training=False) if replicated else model.predict_on_batch(inputs)
        for t in tasks:
            labels[t].append(y[t].numpy())
            weights[t].append(w[t].numpy())
            probs[t].append(np.asarray(out[t]))
        if texts is not None and TRANSCRIPT_TARGET in out:
            texts.extend(greedy_decode(row) for row in np.asarray(out[TRANSCRIPT_TARGET]))
    stack = lambda d: {t: np.concatenate(v) if v else np.zeros((0,)) for t, v in d.items()}  # noqa: E731
    return stack(labels), stack(probs), stack(weights)


def score(
    labels: Mapping[str, np.ndarray], probs: Mapping[str, np.ndarray], weights: Mapping[str, np.ndarray],
    classes: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, dict]:
    """``task_report`` for every task, over the utterances labelled for it. ``labels`` are
    vocabulary indices; ``classes``: each task's head classes (the columns of ``probs``) where they
    are not the task's vocabulary (``kerasser.data.label_space``)."""
    reports = {}
    for task in labels:
        keep = weights[task] > 0
        predicted = vocabulary_indices(task, np.argmax(probs[task], axis=-1), (classes or {}).get(task))
        reports[task] = task_report(task, labels[task][keep], predicted[keep])
    return reports


def mean_uar(reports: Mapping[str, dict]) -> float:
    values = [r["uar"] for r in reports.values() if r["count"]]
    return float(np.mean(values)) if values else float("nan")


def format_table(reports: Mapping[str, dict]) -> str:
    """A plain-text table: one line per task with UAR, accuracy, count and per-class recall."""
    lines = [f"{'task':<10} {'UAR':>6} {'acc':>6} {'n':>5}  per-class recall"]
    for task, r in reports.items():
        recalls = "  ".join(
            f"{c} {v:.1f}" if v is not None else f"{c} -" for c, v in r["recall"].items()
        )
        lines.append(f"{task:<10} {r['uar']:>6.1f} {r['accuracy']:>6.1f} {r['count']:>5}  {recalls}")
    if len(reports) > 1:
        lines.append(f"{'mean':<10} {mean_uar(reports):>6.1f}")
    return "\n".join(lines)


def format_confusions(reports: Mapping[str, dict]) -> str:
    """Confusion matrices, one block per task (rows: truth, columns: prediction)."""
    blocks = []
    for task, r in reports.items():
        width = max(6, *(len(c) for c in r["classes"])) + 1
        head = " " * width + "".join(f"{c:>{width}}" for c in r["classes"])
        rows = [f"{c:<{width}}" + "".join(f"{v:>{width}}" for v in row) for c, row in zip(r["classes"], r["confusion"])]
        blocks.append(f"{task} (rows: truth, columns: predicted)\n" + "\n".join([head, *rows]))
    return "\n\n".join(blocks)
