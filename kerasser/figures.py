"""Report figures as PNG files, drawn with matplotlib's Agg backend (no display needed).

- :func:`confusion_figure`: one task's confusion matrix from a ``kerasser.metrics`` task report,
  as counts and as row-normalised recall (%), class names on both axes; ``kerasser evaluate``
  writes one per task beside its report.
- :func:`learning_curves`: a run's ``metrics.csv`` as two panels over epochs, the training losses
  and the dev UAR per task (and their mean); ``kerasser train`` writes it into the run folder.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

DPI = 100


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save(fig, path: str | os.PathLike) -> Path:
    """Write ``fig`` to the PNG ``path`` at ``DPI`` through a temporary file and a rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=DPI)
    os.replace(tmp, path)
    return path


def confusion_figure(task: str, report: Mapping, path: str | os.PathLike, title: str | None = None) -> Path:
    """Write ``task``'s confusion matrix (``report``: a task report with ``confusion``, ``recall``
    keyed by class, ``uar`` and ``count``) to ``path``: counts on the left, recall per true class
    on the right; rows are the true class, columns the predicted one. Classes that are neither
    true nor predicted for any utterance are left out."""
    plt = pyplot()
    classes = list(report["recall"])
    counts = np.asarray(report["confusion"], dtype=float)
    # classes neither in the data nor predicted (the vocabulary's calm for an EmoDB model) are left out
    shown = np.flatnonzero((counts.sum(axis=0) + counts.sum(axis=1)) > 0) if counts.any() else np.arange(len(classes))
    classes, counts = [classes[i] for i in shown], counts[np.ix_(shown, shown)]
    totals = counts.sum(axis=1, keepdims=True)
    recall = np.divide(100 * counts, totals, out=np.zeros_like(counts), where=totals > 0)
    size = max(3.2, 0.55 * len(classes) + 1.6)
    fig, axes = plt.subplots(1, 2, figsize=(2 * size + 0.6, size + 0.5), constrained_layout=True)
    for ax, values, fmt, label in ((axes[0], counts, "{:.0f}", "utterances"), (axes[1], recall, "{:.0f}", "recall (%)")):
        image = ax.imshow(values, cmap="Blues", vmin=0, vmax=max(values.max(), 1e-9) if label == "utterances" else 100)
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
        ax.set_yticks(range(len(classes)), classes)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(label)
        limit = values.max() / 2 if label == "utterances" else 50
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(j, i, fmt.format(values[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if values[i, j] > limit else "black")
        fig.colorbar(image, ax=ax, shrink=0.8)
    fig.suptitle(title or f"{task}: UAR {report['uar']:.1f} % over {report['count']} utterances")
    try:
        return save(fig, path)
    finally:
        plt.close(fig)


def _number(cell: str | None) -> float:
    try:
        return float(cell)
    except (TypeError, ValueError):  # empty, or Keras' CSVLogger "NA" for a value it did not have
        return np.nan


def read_metrics(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``metrics.csv`` as ``{column: values per epoch}`` (empty and "NA" cells as NaN)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = rows[0].keys() if rows else []
    return {c: np.array([_number(r[c]) for r in rows]) for c in columns}


def learning_curves(metrics_csv: str | os.PathLike, path: str | os.PathLike, tasks: Sequence[str]) -> Path | None:
    """Write the run's learning curves to ``path``: training loss (total and per task) and, when
    the run had a dev split, dev UAR per task and their mean, against epochs counted from 1.
    Nothing is written (None) before the first epoch has finished. Each epoch is a marker, so a
    one-epoch run shows its point (a line needs two), and epochs are whole numbers on the axis."""
    metrics = read_metrics(metrics_csv)
    if not metrics:
        return None  # no finished epoch
    plt = pyplot()
    epochs = metrics["epoch"] + 1 if "epoch" in metrics else np.arange(1, len(next(iter(metrics.values()))) + 1)
    dev = [t for t in tasks if f"val_uar_{t}" in metrics and np.isfinite(metrics[f"val_uar_{t}"]).any()]
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2 if dev else 1, figsize=(11 if dev else 6, 4), constrained_layout=True, squeeze=False)
    mark = {"marker": "o", "markersize": 4 if len(epochs) <= 30 else 0}
    loss_ax = axes[0][0]
    if "loss" in metrics:
        loss_ax.plot(epochs, metrics["loss"], color="black", linewidth=2, label="total (weighted)", **mark)
    for t in tasks:
        if f"{t}_loss" in metrics:
            loss_ax.plot(epochs, metrics[f"{t}_loss"], label=t, **mark)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss")
    loss_ax.set_title("training loss")
    loss_ax.legend(fontsize=8)
    if dev:
        uar_ax = axes[0][1]
        for t in dev:
            uar_ax.plot(epochs, metrics[f"val_uar_{t}"], label=t, **mark)
        if "val_uar" in metrics and np.isfinite(metrics["val_uar"]).any():
            uar_ax.plot(epochs, metrics["val_uar"], color="black", linewidth=2, label="mean", **mark)
            best = int(np.nanargmax(metrics["val_uar"]))
            uar_ax.axvline(epochs[best], color="gray", linestyle=":", label=f"best, epoch {int(epochs[best])}")
        uar_ax.set_xlabel("epoch")
        uar_ax.set_ylabel("dev UAR (%)")
        uar_ax.set_title("dev UAR per task")
        uar_ax.legend(fontsize=8)
    for ax in axes[0]:
        if len(epochs) <= 20:  # every epoch a tick, a one-epoch run's point in the middle
            ax.set_xticks(epochs)
            ax.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    try:
        return save(fig, path)
    finally:
        plt.close(fig)
