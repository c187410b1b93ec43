"""Is system A's UAR higher than system B's? The paper's test and a bootstrap interval.

- ``z_test``: the one-tailed two-proportion z-test Zhang et al. (ICASSP 2019) report: each UAR
  is treated as a proportion of ``n`` test utterances, with the pooled variance
  ``p (1 - p) 2 / n`` where ``p`` is the mean of the two UARs; H1: UAR_A > UAR_B;
  ``p = 1 - Phi(z)``. It ignores that both systems saw the same utterances, so it is conservative
  for correlated systems.
- ``bootstrap_difference``: a paired bootstrap over utterances (``scipy.stats.bootstrap`` with
  ``paired=True``): the same resampled utterances score both systems; the percentile interval of
  UAR_A - UAR_B.
- ``bootstrap_seed_mean_difference``: the same over several seeds of both systems scored on the
  same utterances: each resample of the utterances scores every seed, and the interval is of the
  mean over seeds of UAR_A - UAR_B (it covers the test utterances' sampling, not a new seed's).
- ``fold_difference``: cross-validation folds paired (fold ``i`` of A and of B held out the same
  speaker): how many folds A wins, and the one-tailed Wilcoxon signed-rank p
  (``scipy.stats.wilcoxon``) for H1: A's fold UARs are higher. It treats speakers, not utterances,
  as the samples, so it asks whether the gain carries over to a new speaker.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats


def z_test(uar_a: float, uar_b: float, n: int) -> tuple[float, float]:
    """(z, one-tailed p) for H1: ``uar_a`` > ``uar_b``, UARs in %, ``n`` utterances."""
    a, b = uar_a / 100.0, uar_b / 100.0
    p = (a + b) / 2.0
    se = np.sqrt(p * (1.0 - p) * 2.0 / n) if n > 0 else 0.0
    if se == 0.0:
        return (0.0, 0.5) if a == b else (float(np.sign(a - b)) * np.inf, 0.0 if a > b else 1.0)
    z = (a - b) / se
    return float(z), float(stats.norm.sf(z))


def _uar(truth: np.ndarray, predicted: np.ndarray, classes: int, axis: int = -1) -> np.ndarray:
    """Mean recall over the classes present in ``truth`` (vectorised over leading axes), in %."""
    recalls, present = [], []
    for c in range(classes):
        is_c = truth == c
        count = is_c.sum(axis=axis)
        hits = (is_c & (predicted == c)).sum(axis=axis)
        recalls.append(np.where(count > 0, hits / np.maximum(count, 1), 0.0))
        present.append(count > 0)
    return 100.0 * np.sum(recalls, axis=0) / np.maximum(np.sum(present, axis=0), 1)


def bootstrap_difference(
    truth: Sequence[int], predicted_a: Sequence[int], predicted_b: Sequence[int], classes: int,
    confidence: float = 0.95, resamples: int = 2000, seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of UAR_A - UAR_B (points) over paired bootstrap resamples of the
    utterances."""
    data = tuple(np.asarray(x) for x in (truth, predicted_a, predicted_b))

    def statistic(t, a, b, axis=-1):
        return _uar(t, a, classes, axis) - _uar(t, b, classes, axis)

    result = stats.bootstrap(
        data, statistic, paired=True, vectorized=True, n_resamples=resamples,
        confidence_level=confidence, method="percentile", random_state=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def compare_reports(report_a: dict, report_b: dict, resamples: int = 2000, seed: int = 0) -> dict:
    """Per shared task of two ``evaluate_run`` reports on the same split: both UARs, the z-test
    (H1: A > B) and the paired bootstrap interval of the difference, over the utterances both
    scored (matched by path)."""
    from kerasser.tasks import TASKS

    tasks = {}
    for task, a in report_a["predictions"].items():
        b = report_b["predictions"].get(task)
        if b is None:
            continue
        b_by_path = dict(zip(b["paths"], zip(b["labels"], b["predicted"])))
        rows = [(label, pa, b_by_path[path][1]) for path, label, pa in zip(a["paths"], a["labels"], a["predicted"])
                if path in b_by_path]
        if not rows:
            continue
        truth, pred_a, pred_b = (np.array(col) for col in zip(*rows))
        classes = TASKS[task].num_classes
        uar_a, uar_b = float(_uar(truth, pred_a, classes)), float(_uar(truth, pred_b, classes))
        z, p = z_test(uar_a, uar_b, len(truth))
        low, high = bootstrap_difference(truth, pred_a, pred_b, classes, resamples=resamples, seed=seed)
        tasks[task] = {"n": len(truth), "uar_a": uar_a, "uar_b": uar_b, "difference": uar_a - uar_b,
                       "z": z, "p_one_tailed": p, "bootstrap_95": [low, high]}
    return tasks


def compare_runs(run_a: str, run_b: str, split: str = "test", corpora=None, **kwargs) -> dict:
    """``compare_reports`` of two runs' best models evaluated on ``split`` (of ``corpora``, default
    each run's own)."""
    from kerasser.evaluate.run import evaluate_run

    report_a = evaluate_run(run_a, split, corpora=corpora, write_report=False)
    report_b = evaluate_run(run_b, split, corpora=corpora, write_report=False)
    return {"run_a": str(run_a), "run_b": str(run_b), "split": split, "tasks": compare_reports(report_a, report_b, **kwargs)}


def format_comparison(result: dict) -> str:
    """A table: one row per task."""
    lines = [f"A = {result['run_a']}", f"B = {result['run_b']}",
             f"{'task':<10} {'n':>5} {'UAR A':>7} {'UAR B':>7} {'A-B':>6} {'z':>6} {'p (A>B)':>8}  95% bootstrap CI of A-B"]
    for task, r in result["tasks"].items():
        low, high = r["bootstrap_95"]
        lines.append(f"{task:<10} {r['n']:>5} {r['uar_a']:>7.1f} {r['uar_b']:>7.1f} {r['difference']:>+6.1f} "
                     f"{r['z']:>6.2f} {r['p_one_tailed']:>8.4f}  [{low:+.1f}, {high:+.1f}]")
    return "\n".join(lines)


def bootstrap_seed_mean_difference(
    truth: Sequence[int], predicted_a: Sequence[Sequence[int]], predicted_b: Sequence[Sequence[int]],
    classes: int, confidence: float = 0.95, resamples: int = 2000, seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of mean over seeds of UAR_A - UAR_B (points): ``predicted_a`` and
    ``predicted_b`` are (seeds, utterances), seed ``s`` of A paired with seed ``s`` of B, every row
    aligned with ``truth``; one bootstrap resample of the utterances scores all seeds."""
    t = np.asarray(truth)
    a, b = np.asarray(predicted_a), np.asarray(predicted_b)
    if a.ndim != 2 or a.shape != b.shape or a.shape[1] != t.shape[0]:
        raise ValueError(f"predictions must be (seeds, {t.shape[0]}) each; got {a.shape} and {b.shape}")

    def statistic(index, axis=-1):  # index: (..., utterances) of resampled positions
        picked_t = t[index]
        picked_a, picked_b = a[:, index], b[:, index]  # (seeds, ..., utterances)
        diff = _uar(picked_t, picked_a, classes, axis) - _uar(picked_t, picked_b, classes, axis)
        return diff.mean(axis=0)

    result = stats.bootstrap(
        (np.arange(t.shape[0]),), statistic, vectorized=True, n_resamples=resamples,
        confidence_level=confidence, method="percentile", random_state=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def fold_difference(uars_a: Sequence[float], uars_b: Sequence[float]) -> dict:
    """Folds paired by position: {"folds", "wins" (A > B), "ties", "mean_difference" (points),
    "p_one_tailed" (Wilcoxon signed-rank, H1: A > B; 1.0 when every fold ties)}."""
    a, b = np.asarray(uars_a, dtype=float), np.asarray(uars_b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError(f"need two equal-length lists of fold UARs; got {a.shape} and {b.shape}")
    diff = a - b
    p = 1.0 if np.all(diff == 0) else float(stats.wilcoxon(a, b, alternative="greater").pvalue)
    return {"folds": int(a.size), "wins": int((diff > 0).sum()), "ties": int((diff == 0).sum()),
            "mean_difference": float(diff.mean()), "p_one_tailed": p}
