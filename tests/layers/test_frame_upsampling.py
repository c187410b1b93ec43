"""FrameUpsampling: the shared layer checks, a NumPy reference, sums kept, zeros on padding."""

from __future__ import annotations

import numpy as np
import pytest
from harness import CHECKS, run_layer_test
from layer_helpers import prefix_mask

from kerasser.model.layers import FrameDownsampling, FrameUpsampling


def reference(weights: np.ndarray, mask: np.ndarray, rate: int) -> np.ndarray:
    """Each group's weight divided equally among its valid frames."""
    out = np.zeros(mask.shape)
    for b in range(mask.shape[0]):
        for t in np.flatnonzero(mask[b]):
            g = t // rate
            group = mask[b, g * rate:(g + 1) * rate]
            out[b, t] = weights[b, g] / group.sum()
    return out


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    weights = rng.uniform(size=(3, 3)).astype(np.float32)  # over ceil(7 / 3) groups
    run_layer_test(
        check, FrameUpsampling, dict(rate=3, name="up"), [weights, prefix_mask([7, 4, 1], 7)],
        skip={"gradient": "no weights"},
    )


@pytest.mark.parametrize("rate, time", [(2, 8), (2, 7), (3, 10)])
def test_matches_numpy_reference_and_keeps_sums(rng, rate, time):
    mask = prefix_mask([time, max(1, time - 3), 1], time)
    _, group_mask = FrameDownsampling(rate)([np.zeros((3, time, 1), np.float32), mask])
    group_mask = np.asarray(group_mask)
    weights = rng.uniform(0.1, 1.0, size=group_mask.shape) * group_mask
    weights = (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)  # a distribution
    out = np.asarray(FrameUpsampling(rate)([weights, mask]))
    assert out.shape == mask.shape
    np.testing.assert_allclose(out, reference(weights, mask, rate), atol=1e-6)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(out[~mask] == 0.0) and np.all(out[mask] > 0.0)
