"""LastStepPooling: the shared layer checks, a NumPy reference with prefix masks, no mask."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from harness import CHECKS, run_layer_test
from layer_helpers import prefix_mask

from kerasser.model.layers import LastStepPooling


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    h = rng.normal(size=(3, 6, 4)).astype(np.float32)
    run_layer_test(
        check, LastStepPooling, dict(name="last"), h, mask=prefix_mask([6, 3, 1], 6),
        skip={"gradient": "no weights"},
    )


def test_matches_numpy_reference_with_prefix_masks(rng):
    time = 6
    lengths = np.concatenate([[time, 1], rng.integers(1, time + 1, size=3)])
    h = rng.normal(size=(len(lengths), time, 4)).astype(np.float32)
    out = np.asarray(LastStepPooling()(h, mask=prefix_mask(lengths, time)))
    expected = h[np.arange(len(lengths)), lengths - 1]
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_padding_values_do_not_matter(rng):
    lengths = np.array([3, 5])
    h = rng.normal(size=(2, 8, 4)).astype(np.float32)
    mask = prefix_mask(lengths, 8)
    junk = h.copy()
    junk[~mask] = rng.normal(scale=100.0, size=(int((~mask).sum()), 4))
    layer = LastStepPooling()
    np.testing.assert_allclose(np.asarray(layer(junk, mask=mask)), np.asarray(layer(h, mask=mask)), atol=1e-6)


def test_row_without_real_step_takes_step_zero(rng):
    h = rng.normal(size=(2, 4, 3)).astype(np.float32)
    out = np.asarray(LastStepPooling()(h, mask=prefix_mask([0, 2], 4)))
    np.testing.assert_allclose(out, h[[0, 1], [0, 1]], atol=1e-6)


def test_no_mask_takes_last_step(rng):
    h = rng.normal(size=(3, 5, 2)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(LastStepPooling()(h)), h[:, -1])


def test_keras_mask_is_used_and_not_carried(rng):
    lengths = np.array([2, 5, 4])
    h = rng.normal(size=(3, 5, 3)).astype(np.float32)
    h[~prefix_mask(lengths, 5)] = 0.0  # what Masking(0) turns into mask=False
    inputs = keras.Input((None, 3))
    pooled = LastStepPooling()(keras.layers.Masking(0.0)(inputs))
    assert getattr(pooled, "_keras_mask", None) is None
    model = keras.Model(inputs, pooled)
    np.testing.assert_allclose(np.asarray(model(h)), h[np.arange(3), lengths - 1], atol=1e-6)


@pytest.mark.parametrize("shape", [(3, 5, 2), (None, None, 7)])
def test_output_shape_and_no_weights(shape):
    layer = LastStepPooling()
    assert layer.compute_output_shape(shape) == (shape[0], shape[2])
    layer.build(shape)
    assert layer.weights == []
