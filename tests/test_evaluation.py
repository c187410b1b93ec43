"""UAR and reports against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from kerasser.metrics import format_confusions, format_table, score, task_report, uar


def test_uar_is_mean_recall_over_present_classes():
    y_true = [0, 0, 0, 0, 2, 2]
    y_pred = [0, 0, 0, 1, 2, 0]
    # recall class 0 = 3/4, class 2 = 1/2; class 1 is absent from the truth and not averaged
    assert uar(y_true, y_pred) == pytest.approx(100 * (0.75 + 0.5) / 2)
    assert np.isnan(uar([], []))


def test_task_report_confusion_and_recall():
    r = task_report("arousal", [0, 1, 2, 2], [0, 2, 2, 1])
    assert r["confusion"] == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    assert r["recall"] == {"low": 100.0, "mid": 0.0, "high": 50.0}
    assert r["uar"] == pytest.approx(50.0)
    assert r["accuracy"] == pytest.approx(50.0)
    assert r["support"] == {"low": 1, "mid": 1, "high": 2}


def test_score_leaves_out_unlabelled_rows():
    labels = {"valence": np.array([0, 2, 1])}
    probs = {"valence": np.array([[0.9, 0.05, 0.05], [0.1, 0.1, 0.8], [0.9, 0.05, 0.05]])}
    weights = {"valence": np.array([1.0, 1.0, 0.0])}
    reports = score(labels, probs, weights)
    assert reports["valence"]["count"] == 2 and reports["valence"]["uar"] == pytest.approx(100.0)
    table = format_table(reports)
    assert "valence" in table and "100.0" in table
    assert "rows: truth" in format_confusions(reports)
