"""FramedFrontEnd: the paper's per-frame convolutions (TimeDistributed Conv1D), trace-safe."""

from __future__ import annotations

import keras
import tensorflow as tf

from kerasser.layers.conv_stack import conv_output_length, make_conv_layers
from kerasser.layers.framing_ops import channel_max_pool, frame


@keras.saving.register_keras_serializable(package="kerasser")
class FramedFrontEnd(keras.layers.Layer):
    """Cut the waveform into frames and run the convolution stack on each frame on its own.

    Input: [batch, time] waveform sized by ``FramePadding`` (``time = (F-1)*step + length``).
    Output: [batch, F, features] with ``features = conv_output_length(frame_length) *
    filters // channel_pool`` (1,280 for the paper's 'same' padding, 1,044 for 'valid').

    This is what ``TimeDistributed(Conv1D)`` computes, written as an explicit fold of the frame
    axis into the batch axis (reshape -> convolve -> reshape back). Keras 3.15's
    ``TimeDistributed`` has been seen to iterate over the wrong axis when the time dimension is
    unknown inside traced code, returning one step where eager returns all;
    ``tests/layers/test_framed_frontend.py`` compares traced and eager outputs over several
    lengths to catch that class of bug.

    Masking: none consumed or produced; frames past an utterance's end are masked downstream by
    ``FramePadding``'s frame mask.
    """

    def __init__(
        self,
        filters: int = 40,
        width: int = 40,
        time_pool: int = 2,
        channel_pool: int = 10,
        padding: str = "same",
        frame_length: int = 640,
        frame_step: int = 160,
        l2: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = filters
        self.width = width
        self.time_pool = time_pool
        self.channel_pool = channel_pool
        self.padding = padding
        self.frame_length = frame_length
        self.frame_step = frame_step
        self.l2 = l2
        self.conv1, self.pool, self.conv2 = make_conv_layers(filters, width, time_pool, padding, l2)
        self.features = (
            conv_output_length(frame_length, width, time_pool, padding) * filters // channel_pool
        )

    def build(self, input_shape):
        self.conv1.build((None, self.frame_length, 1))
        pooled = self.frame_length if self.padding == "same" else self.frame_length - self.width + 1
        self.conv2.build((None, pooled // self.time_pool, self.filters))

    def call(self, waveform):
        batch = tf.shape(waveform)[0]
        frames = frame(tf.expand_dims(waveform, -1), self.frame_length, self.frame_step)
        count = tf.shape(frames)[1]
        x = tf.reshape(frames, [-1, self.frame_length, 1])  # fold frames into the batch
        x = self.conv2(self.pool(self.conv1(x)))
        x = channel_max_pool(x, self.channel_pool)
        return tf.reshape(x, [batch, count, self.features])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None, self.features)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "width": self.width,
            "time_pool": self.time_pool,
            "channel_pool": self.channel_pool,
            "padding": self.padding,
            "frame_length": self.frame_length,
            "frame_step": self.frame_step,
            "l2": self.l2,
        }
