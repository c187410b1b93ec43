"""MixStyle: the shared layer checks (in training), a NumPy reference of the mixing, identity at
inference, the probability, padding untouched, and the statistics held constant in the gradient."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from harness import CHECKS, run_layer_test

from kerasser.model.layers import MixStyle


def features(rng, shape=(4, 12, 6)):
    return (rng.normal(size=shape) * rng.uniform(0.5, 3.0, size=(shape[0], 1, shape[2]))
            + rng.normal(size=(shape[0], 1, shape[2]))).astype(np.float32)


def lengths_mask(lengths, time):
    return np.arange(time)[None, :] < np.asarray(lengths)[:, None]


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    x = features(rng)
    run_layer_test(check, MixStyle, dict(probability=1.0, alpha=0.1, epsilon=1e-6, seed=3, name="mix"), x,
                   mask=lengths_mask([12, 7, 12, 3], 12), call_kwargs=dict(training=True),
                   skip={"gradient": "no weights"})


def reference(x, valid, lam, order, eps=1e-6):
    out = x.copy()
    stats = []
    for b in range(len(x)):
        v = x[b, valid[b]]
        stats.append((v.mean(0), np.sqrt(v.var(0) + eps)))
    for b in range(len(x)):
        (mu, sd), (mu2, sd2) = stats[b], stats[order[b]]
        mixed = (x[b] - mu) / sd * (lam[b] * sd + (1 - lam[b]) * sd2) + lam[b] * mu + (1 - lam[b]) * mu2
        out[b, valid[b]] = mixed[valid[b]]
    return out


def test_mixing_matches_a_numpy_reference(rng):
    x = features(rng)
    valid = lengths_mask([12, 7, 12, 3], 12)
    lam, order = np.array([0.9, 0.3, 1.0, 0.5], np.float32), np.array([1, 0, 3, 2])
    got = np.asarray(MixStyle().mix(x, valid, lam, order))
    np.testing.assert_allclose(got, reference(x, valid, lam, order), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(got[1, 7:], x[1, 7:])  # padding untouched
    np.testing.assert_allclose(got[2], x[2], rtol=1e-4, atol=1e-4)  # lam 1: its own statistics


def test_identity_at_inference_and_with_probability_zero(rng):
    x = features(rng)
    np.testing.assert_array_equal(np.asarray(MixStyle(probability=1.0, seed=0)(x)), x)
    np.testing.assert_array_equal(np.asarray(MixStyle(probability=0.0, seed=0)(x, training=True)), x)
    mixed = np.asarray(MixStyle(probability=1.0, seed=0)(x, training=True))
    assert not np.allclose(mixed, x)


def test_statistics_are_constant_in_the_gradient(rng):
    """d(sum of the output)/dx of a row mixed with itself (lam 1) is exactly 1: mu and sigma are
    held constant (stop_gradient), as in the paper."""
    x = tf.constant(features(rng))
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = MixStyle().mix(x, None, tf.ones([4]), tf.range(4))
    np.testing.assert_allclose(tape.gradient(out, x).numpy(), 1.0, rtol=1e-5)


def test_refuses_bad_settings():
    with pytest.raises(ValueError, match="probability"):
        MixStyle(probability=1.5)
