"""Report figures: confusion matrices and learning curves are PNG files of the expected size."""

from __future__ import annotations

import numpy as np
import pytest

from kerasser.figures import DPI, confusion_figure, learning_curves
from kerasser.metrics import task_report

mpimg = pytest.importorskip("matplotlib.image")


def size_of(path):
    height, width = mpimg.imread(path).shape[:2]
    return width, height


@pytest.mark.parametrize("task, classes", [("arousal", 3), ("emotion", 7)])
def test_confusion_figure(tmp_path, task, classes):
    rng = np.random.default_rng(0)
    truth = rng.integers(0, classes, 60)
    predicted = np.where(rng.random(60) < 0.7, truth, rng.integers(0, classes, 60))
    report = task_report(task, truth, predicted)
    path = confusion_figure(task, report, tmp_path / f"{task}.png")
    side = max(3.2, 0.55 * classes + 1.6)
    assert size_of(path) == (round((2 * side + 0.6) * DPI), round((side + 0.5) * DPI))
    assert [p.name for p in tmp_path.iterdir()] == [f"{task}.png"]  # no temporary left


def test_learning_curves_with_and_without_dev(tmp_path):
    tasks = ("arousal", "emotion")
    rows = ["epoch,arousal_loss,emotion_loss,loss,val_uar,val_uar_arousal,val_uar_emotion"]
    rows += [f"{e},{1 / (e + 1)},{2 / (e + 1)},{3 / (e + 1)},{40 + e},{50 + e},{30 + e}" for e in range(5)]
    (tmp_path / "metrics.csv").write_text("\n".join(rows) + "\n")
    assert size_of(learning_curves(tmp_path / "metrics.csv", tmp_path / "dev.png", tasks)) == (1100, 400)
    (tmp_path / "nodev.csv").write_text("epoch,arousal_loss,loss,val_uar_arousal\n0,1.0,1.0,NA\n1,0.8,0.8,NA\n")
    assert size_of(learning_curves(tmp_path / "nodev.csv", tmp_path / "nodev.png", tasks)) == (600, 400)
    (tmp_path / "empty.csv").write_text("epoch,loss\n")
    assert learning_curves(tmp_path / "empty.csv", tmp_path / "empty.png", tasks) is None
    assert not (tmp_path / "empty.png").exists()


def test_one_epoch_learning_curves_show_their_points(tmp_path):
    """A one-epoch run has one value per curve: a line needs two points, so each epoch is a marker
    (the figure was empty axes before)."""
    tasks = ("arousal", "emotion")
    (tmp_path / "metrics.csv").write_text("epoch,arousal_loss,emotion_loss,loss,val_uar,val_uar_arousal,val_uar_emotion\n"
                                          "0,1.0,1.0,1.0,50.0,50.0,50.0\n")
    image = mpimg.imread(learning_curves(tmp_path / "metrics.csv", tmp_path / "one.png", tasks))[..., :3]
    height, width = image.shape[:2]
    middle = image[height // 2 - 10: height // 2 + 10]  # a band across both panels, below the legends
    loss, uar = middle[:, int(0.15 * width): int(0.45 * width)], middle[:, int(0.6 * width): int(0.95 * width)]
    assert (loss.sum(axis=-1) < 2.4).sum() > 15  # the losses' point (the old figure: none)
    assert (uar.sum(axis=-1) < 0.3).sum() > 5  # the black mean UAR point (the old figure: the grey best line only)
