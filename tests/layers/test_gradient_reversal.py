"""GradientReversal: identity forward, -weight * gradient backward, config round trip."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasser.layers import GradientReversal


def test_config_round_trip():
    layer = GradientReversal(0.3, name="rev")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is GradientReversal and restored.get_config() == layer.get_config()
    assert restored.weight == 0.3


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
