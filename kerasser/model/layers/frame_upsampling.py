"""FrameUpsampling: spread weights over downsampled steps back onto the original frames."""

from __future__ import annotations

import keras
import tensorflow as tf

from kerasser.model.layers.frame_downsampling import group_weights


@keras.saving.register_keras_serializable(package="kerasser")
class FrameUpsampling(keras.layers.Layer):
    """The inverse of ``FrameDownsampling`` for a distribution over time steps.

    Call on ``[weights, frame_mask]``: ``weights`` [batch, groups] (for example attention weights
    over the steps of a ``FrameDownsampling(rate)`` output) and the *original* ``frame_mask``
    [batch, time] bool. Returns [batch, time]: each group's weight shared equally among its
    valid frames. Weights that sum to 1 over the valid groups still sum to 1 over the valid
    frames, so attention outputs keep one weight per ``frame_step`` whatever the rate.

    Masking: consumes the explicit ``frame_mask`` (any Keras mask is ignored; none is returned);
    padded frames get exactly 0.
    """

    def __init__(self, rate: int = 2, **kwargs):
        super().__init__(**kwargs)
        if rate < 1:
            raise ValueError(f"rate must be at least 1, not {rate}")
        self.rate = rate
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def call(self, inputs):
        weights, mask = inputs
        valid, shape = group_weights(mask, self.rate)  # [batch, groups, rate]
        valid = tf.cast(valid, weights.dtype)
        count = tf.maximum(tf.reduce_sum(valid, axis=2, keepdims=True), 1.0)
        spread = valid * weights[..., None] / count
        return tf.reshape(spread, [shape[0], -1])[:, : shape[1]]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[1])

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}
