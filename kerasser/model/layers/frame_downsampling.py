"""FrameDownsampling: average each run of ``rate`` frames into one, masks included."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kerasser")
class FrameDownsampling(keras.layers.Layer):
    """Shorten a frame sequence ``rate`` times before the recurrent layers.

    Call on ``[frames, frame_mask]``: ``frames`` [batch, time, features], ``frame_mask``
    [batch, time] bool. Returns ``[pooled, pooled_mask]``: step ``j`` of ``pooled``
    [batch, ceil(time / rate), features] is the mean of the *valid* frames among
    ``j * rate ... j * rate + rate - 1``, and ``pooled_mask`` [batch, ceil(time / rate)] is True
    where that group holds at least one valid frame. Every GRU step then covers ``rate`` frames
    (``rate * frame_step`` samples), so the recurrence, the slowest part of the model on a
    device, runs ``rate`` times fewer steps.

    Masking: consumes the explicit ``frame_mask`` and ignores any Keras mask on ``frames``
    (returning none: the new mask is an output). Padded frames get weight 0 in every mean, so
    padding never changes a valid step; a group with no valid frame comes out 0. ``rate=1``
    returns its inputs unchanged.
    """

    def __init__(self, rate: int = 2, **kwargs):
        super().__init__(**kwargs)
        if rate < 1:
            raise ValueError(f"rate must be at least 1, not {rate}")
        self.rate = rate
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None, None

    def call(self, inputs):
        frames, mask = inputs
        if self.rate == 1:
            return frames, tf.cast(mask, tf.bool)
        weight, shape = group_weights(mask, self.rate)
        features = frames.shape[-1]
        grouped = tf.reshape(pad_time(frames, self.rate), [shape[0], -1, self.rate, features])
        weight = tf.cast(weight, frames.dtype)[..., None]  # [batch, groups, rate, 1]
        count = tf.reduce_sum(weight, axis=2)
        pooled = tf.reduce_sum(grouped * weight, axis=2) / tf.maximum(count, 1.0)
        return pooled, count[..., 0] > 0

    def compute_output_shape(self, input_shape):
        batch = input_shape[0][0]
        return (batch, None, input_shape[0][-1]), (batch, None)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate}


def pad_time(x, rate: int):
    """``x`` [batch, time, ...] zero-padded at the end of time to a multiple of ``rate``."""
    time = tf.shape(x)[1]
    extra = (rate - time % rate) % rate
    paddings = tf.concat([[[0, 0], [0, extra]], tf.zeros([tf.rank(x) - 2, 2], tf.int32)], axis=0)
    return tf.pad(x, paddings)


def group_weights(mask, rate: int):
    """``mask`` [batch, time] -> (float weights [batch, groups, rate], the mask's shape)."""
    shape = tf.shape(mask)
    padded = pad_time(tf.cast(mask, tf.float32), rate)
    return tf.reshape(padded, [shape[0], -1, rate]), shape
