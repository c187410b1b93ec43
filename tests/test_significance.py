"""kerasser.evaluate.significance: the z-test against a hand computation, UAR against scikit-learn, the
paired bootstrap, the fold-paired Wilcoxon test, and comparing two evaluation reports utterance by utterance."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import recall_score

from kerasser.evaluate.significance import (
    _uar,
    bootstrap_difference,
    bootstrap_seed_mean_difference,
    compare_reports,
    fold_difference,
    format_comparison,
    z_test,
)


def test_z_test_by_hand():
    # UARs 70 % and 60 % on 127 utterances: p = 0.65, se = sqrt(0.65 * 0.35 * 2 / 127) = 0.059855
    z, p = z_test(70.0, 60.0, 127)
    assert z == pytest.approx(0.10 / math.sqrt(0.65 * 0.35 * 2 / 127)) == pytest.approx(1.6707, abs=1e-4)
    assert p == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)))  # 1 - Phi(z)
    assert p == pytest.approx(0.0474, abs=1e-4)
    z_back, p_back = z_test(60.0, 70.0, 127)
    assert z_back == pytest.approx(-z) and p_back == pytest.approx(1 - p)
    assert z_test(55.0, 55.0, 50) == (0.0, 0.5)


def test_uar_matches_scikit_learn(rng):
    truth = rng.integers(0, 4, 300)
    predicted = np.where(rng.random(300) < 0.7, truth, rng.integers(0, 4, 300))
    assert _uar(truth, predicted, 4) == pytest.approx(100 * recall_score(truth, predicted, average="macro"))
    truth[truth == 3] = 0  # a class absent from the reference does not count
    assert _uar(truth, predicted, 4) == pytest.approx(
        100 * recall_score(truth, predicted, labels=[0, 1, 2], average="macro"))


def test_paired_bootstrap_interval(rng):
    truth = rng.integers(0, 3, 400)
    good = np.where(rng.random(400) < 0.9, truth, rng.integers(0, 3, 400))
    poor = np.where(rng.random(400) < 0.5, truth, rng.integers(0, 3, 400))
    low, high = bootstrap_difference(truth, good, poor, 3, resamples=500)
    assert 0 < low < _uar(truth, good, 3) - _uar(truth, poor, 3) < high
    assert bootstrap_difference(truth, good, poor, 3, resamples=500) == (low, high)  # seeded
    back = bootstrap_difference(truth, poor, good, 3, resamples=500)
    assert back == pytest.approx((-high, -low), abs=1e-9)
    same = bootstrap_difference(truth, good, good, 3, resamples=200)
    assert same == (0.0, 0.0)


def test_seed_mean_bootstrap_interval(rng):
    truth = rng.integers(0, 3, 300)

    def system(accuracy):
        return np.where(rng.random(300) < accuracy, truth, rng.integers(0, 3, 300))

    good = np.stack([system(0.9), system(0.85), system(0.8)])
    poor = np.stack([system(0.5), system(0.55), system(0.45)])
    mean_difference = np.mean([_uar(truth, g, 3) - _uar(truth, p, 3) for g, p in zip(good, poor)])
    low, high = bootstrap_seed_mean_difference(truth, good, poor, 3, resamples=500)
    assert 0 < low < mean_difference < high
    back = bootstrap_seed_mean_difference(truth, poor, good, 3, resamples=500)
    assert back == pytest.approx((-high, -low), abs=1e-9)
    assert bootstrap_seed_mean_difference(truth, good, good, 3, resamples=200) == (0.0, 0.0)
    # averaging seeds narrows the interval against one seed's
    one_low, one_high = bootstrap_seed_mean_difference(truth, good[:1], poor[:1], 3, resamples=500)
    assert high - low < one_high - one_low
    # one seed: the same interval as the paired bootstrap of bootstrap_difference
    assert (one_low, one_high) == pytest.approx(
        bootstrap_difference(truth, good[0], poor[0], 3, resamples=500), abs=1.0)
    with pytest.raises(ValueError, match="seeds"):
        bootstrap_seed_mean_difference(truth, good, poor[:2], 3)


def report(paths, labels, predicted):
    return {"predictions": {"arousal": {"paths": paths, "labels": labels, "predicted": predicted}}}


def test_compare_reports_matches_utterances_by_path():
    a = report(["x", "y", "z", "w"], [0, 1, 2, 2], [0, 1, 2, 2])
    b = report(["w", "z", "y", "v"], [2, 2, 1, 0], [0, 2, 0, 0])  # other order, v not in A, x not in B
    result = compare_reports(a, b, resamples=200)["arousal"]
    assert result["n"] == 3  # y, z, w
    assert result["uar_a"] == pytest.approx(100.0)
    assert result["uar_b"] == pytest.approx(25.0)  # class 1: 0/1, class 2: 1/2
    assert result["difference"] == pytest.approx(75.0)
    table = format_comparison({"run_a": "A", "run_b": "B", "tasks": {"arousal": result}})
    assert "arousal" in table and "+75.0" in table


def test_fold_difference_exact_wilcoxon():
    b = [50.0, 60.0, 55.0, 70.0, 40.0, 65.0, 58.0, 62.0, 48.0, 52.0]
    a = [x + d for x, d in zip(b, range(1, 11))]  # A higher on all ten folds, distinct gaps
    r = fold_difference(a, b)
    # exact null distribution: all 2^10 sign patterns equally likely, only one has every rank positive
    assert r["p_one_tailed"] == pytest.approx(1 / 2**10)
    assert (r["folds"], r["wins"], r["ties"]) == (10, 10, 0)
    assert r["mean_difference"] == pytest.approx(5.5)
    assert fold_difference(b, a)["p_one_tailed"] == pytest.approx(1.0)  # P(T+ >= 0)
    tie = fold_difference(b, b)
    assert (tie["wins"], tie["ties"], tie["p_one_tailed"]) == (0, 10, 1.0)
    with pytest.raises(ValueError, match="equal-length"):
        fold_difference([1.0, 2.0], [1.0])
