"""GradientReversal: the shared layer checks, identity forward, -weight * gradient backward."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from harness import CHECKS, run_layer_test

from kerasser.model.layers import GradientReversal


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    x = rng.normal(size=(3, 5)).astype(np.float32)  # pooled vectors [batch, units]
    skip = {"gradient": "no weights (its reversed input gradient is checked below)"}
    run_layer_test(check, GradientReversal, dict(weight=0.3, name="rev"), x, skip=skip)


def test_forward_is_identity_and_backward_is_reversed(rng):
    x = tf.constant(rng.normal(size=(3, 5)).astype(np.float32))
    upstream = rng.normal(size=(3, 5)).astype(np.float32)
    for weight in (0.0, 0.5, 2.0):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = GradientReversal(weight)(x)
            loss = tf.reduce_sum(y * upstream)  # dL/dy = upstream
        np.testing.assert_array_equal(np.asarray(y), np.asarray(x))
        np.testing.assert_allclose(np.asarray(tape.gradient(loss, x)), -weight * upstream, rtol=1e-6)
