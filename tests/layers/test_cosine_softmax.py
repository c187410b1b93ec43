"""CosineSoftmax: the shared layer checks, a NumPy reference, scale invariance of its inputs,
the logits' bound and the regulariser round trip."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from harness import CHECKS, run_layer_test

from kerasser.model.layers import CosineSoftmax


def reference(x: np.ndarray, w: np.ndarray, scale: float) -> np.ndarray:
    """softmax(scale * cos) in float64."""
    x = x.astype(np.float64) / np.linalg.norm(x, axis=-1, keepdims=True)
    w = w.astype(np.float64) / np.linalg.norm(w, axis=0, keepdims=True)
    z = scale * x @ w
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def built(rng, features: int, units: int, **kwargs):
    layer = CosineSoftmax(units, **kwargs)
    layer.build((None, features))
    w = rng.normal(size=(features, units)).astype(np.float32)
    layer.set_weights([w])
    return layer, w


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    # [batch, time, features]: the harness leaves axis 1 unknown, and the layer works on the last axis
    x = rng.normal(size=(3, 4, 6)).astype(np.float32)
    run_layer_test(check, CosineSoftmax, dict(units=4, scale=10.0, name="head"), x)


def test_matches_numpy_reference(rng):
    x = rng.normal(size=(5, 6)).astype(np.float32)
    for scale in (1.0, 30.0):
        layer, w = built(rng, 6, 3, scale=scale)
        p = np.asarray(layer(x))
        np.testing.assert_allclose(p, reference(x, w, scale), rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(p.sum(axis=-1), 1.0, atol=1e-6)


def test_only_directions_count_and_logits_are_bounded_by_the_scale(rng):
    x = rng.normal(size=(4, 6)).astype(np.float32)
    layer, w = built(rng, 6, 3, scale=5.0)
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(layer(100.0 * x)), rtol=1e-5)
    # the largest possible ratio of two classes' probabilities is exp(2 * scale)
    aligned = w[:, 0][None, :]  # x along class 0's weights: cos = 1 for it
    p = np.asarray(layer(aligned))[0]
    assert np.argmax(p) == 0
    assert p[0] / p.min() <= np.exp(2 * 5.0) * (1 + 1e-5)
    # a (near-)zero vector: (near-)uniform probabilities, not its rounding noise's direction amplified
    np.testing.assert_allclose(np.asarray(layer(np.zeros((1, 6), np.float32))), 1 / 3, atol=1e-6)
    np.testing.assert_allclose(np.asarray(layer(1e-6 * x)), 1 / 3, atol=0.02)


def test_kernel_regularizer_round_trip(rng):
    layer, w = built(rng, 6, 3, kernel_regularizer=keras.regularizers.L2(1e-3))
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored.kernel_regularizer, keras.regularizers.L2)
    restored.set_weights([w])
    np.testing.assert_allclose(float(restored.losses[0]), 1e-3 * np.sum(w.astype(np.float64) ** 2), rtol=1e-5)
    assert CosineSoftmax.from_config(CosineSoftmax(3).get_config()).kernel_regularizer is None
