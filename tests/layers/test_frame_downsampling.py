"""FrameDownsampling: the shared layer checks, a NumPy reference with masks, padding invariance,
rate 1, traced == eager with unknown time."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from harness import CHECKS, run_layer_test
from layer_helpers import prefix_mask

from kerasser.model.layers import FrameDownsampling


def reference(x: np.ndarray, mask: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the valid frames of each group of ``rate``; a group without one is 0 and masked."""
    batch, time, features = x.shape
    groups = -(-time // rate)
    out = np.zeros((batch, groups, features))
    out_mask = np.zeros((batch, groups), bool)
    for b in range(batch):
        for g in range(groups):
            idx = [t for t in range(g * rate, min(time, (g + 1) * rate)) if mask[b, t]]
            if idx:
                out[b, g] = x[b, idx].mean(axis=0)
                out_mask[b, g] = True
    return out, out_mask


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    x = rng.normal(size=(3, 7, 5)).astype(np.float32)
    run_layer_test(
        check, FrameDownsampling, dict(rate=3, name="down"), [x, prefix_mask([7, 4, 1], 7)],
        skip={"gradient": "no weights"},
    )


@pytest.mark.parametrize("rate, time", [(2, 8), (2, 7), (3, 10), (4, 3)])
def test_matches_numpy_reference(rng, rate, time):
    x = rng.normal(size=(3, time, 5)).astype(np.float32)
    mask = prefix_mask([time, max(1, time - 3), 1], time)
    pooled, pooled_mask = FrameDownsampling(rate)([x, mask])
    want, want_mask = reference(x, mask, rate)
    np.testing.assert_allclose(np.asarray(pooled), want, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(pooled_mask), want_mask)


def test_padding_never_changes_valid_steps(rng):
    x = rng.normal(size=(1, 5, 4)).astype(np.float32)
    mask = np.ones((1, 5), bool)
    alone, _ = FrameDownsampling(2)([x, mask])
    padded_x = np.concatenate([x, rng.normal(100.0, size=(1, 4, 4)).astype(np.float32)], axis=1)
    padded_mask = np.concatenate([mask, np.zeros((1, 4), bool)], axis=1)
    padded, padded_out_mask = FrameDownsampling(2)([padded_x, padded_mask])
    np.testing.assert_allclose(np.asarray(padded)[:, :3], np.asarray(alone), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(padded_out_mask), [[True] * 3 + [False] * 2])
    assert np.all(np.asarray(padded)[:, 3:] == 0.0)


def test_rate_one_is_identity(rng):
    x = rng.normal(size=(2, 6, 3)).astype(np.float32)
    mask = np.array([[1] * 6, [1] * 4 + [0] * 2], bool)
    pooled, pooled_mask = FrameDownsampling(1)([x, mask])
    np.testing.assert_array_equal(np.asarray(pooled), x)
    np.testing.assert_array_equal(np.asarray(pooled_mask), mask)


def test_traced_with_unknown_time_matches_eager(rng):
    layer = FrameDownsampling(3)
    traced = tf.function(
        lambda x, m: layer([x, m]),
        input_signature=[tf.TensorSpec([None, None, 4], tf.float32), tf.TensorSpec([None, None], tf.bool)],
    )
    for time in (1, 5, 9):
        x = rng.normal(size=(2, time, 4)).astype(np.float32)
        mask = prefix_mask([time, 1], time)
        for got, want in zip(traced(x, mask), layer([x, mask])):
            np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert traced.experimental_get_tracing_count() == 1


def test_rejects_rate_below_one():
    with pytest.raises(ValueError, match="rate"):
        FrameDownsampling(0)
