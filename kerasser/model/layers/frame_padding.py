"""FramePadding: zero a padded waveform batch beyond each utterance's length and size it for framing."""

from __future__ import annotations

import keras
import tensorflow as tf

from kerasser.config import num_frames


@keras.saving.register_keras_serializable(package="kerasser")
class FramePadding(keras.layers.Layer):
    """Prepare a padded waveform batch for framing, and say which frames are real.

    Call on ``[waveform, length]``: ``waveform`` is [batch, time] float (already standardised),
    ``length`` [batch] int, the number of valid samples of each row. Returns
    ``[padded, frame_mask]``:

    - ``padded`` [batch, (F - 1) * frame_step + frame_length]: the waveform with every sample at
      or beyond ``length`` set to 0, zero-padded at the end so that exactly
      ``F = num_frames(time)`` frames fit;
    - ``frame_mask`` [batch, F] bool, True for the ``num_frames(length)`` frames of each row.

    Masking: this layer *creates* the frame mask from ``length``; it consumes no Keras mask.
    Because samples past ``length`` are zeroed here, whatever padding a batch carries, the
    valid frames see the same input, so padding cannot change any output downstream.
    """

    def __init__(self, frame_length: int = 640, frame_step: int = 160, **kwargs):
        super().__init__(**kwargs)
        self.frame_length = frame_length
        self.frame_step = frame_step

    def call(self, inputs):
        waveform, length = inputs
        length = tf.cast(tf.reshape(length, [-1]), tf.int32)
        time = tf.shape(waveform)[1]
        frames = num_frames(time, self.frame_length, self.frame_step, tf.maximum)
        target = (frames - 1) * self.frame_step + self.frame_length
        valid = tf.sequence_mask(length, time)
        waveform = tf.where(valid, waveform, tf.zeros_like(waveform))
        padded = tf.pad(waveform, [[0, 0], [0, target - time]])
        frame_mask = tf.sequence_mask(num_frames(length, self.frame_length, self.frame_step, tf.maximum), frames)
        return padded, frame_mask

    def compute_output_shape(self, input_shape):
        batch = input_shape[0][0]
        return (batch, None), (batch, None)

    def get_config(self):
        return {**super().get_config(), "frame_length": self.frame_length, "frame_step": self.frame_step}
