"""SharedFrontEnd: one 'valid' convolution over the whole utterance, then framed features."""

from __future__ import annotations

import keras
import tensorflow as tf

from kerasser.layers.conv_stack import conv_output_length, make_conv_layers
from kerasser.layers.framing_ops import channel_max_pool, frame


@keras.saving.register_keras_serializable(package="kerasser")
class SharedFrontEnd(keras.layers.Layer):
    """The framed front end's features, computed once per utterance instead of once per frame.

    Frames overlap by 75 % (640-sample frames every 160 samples), so convolving each frame
    repeats every convolution four times. With 'valid' convolutions and pooling, frame ``f``'s
    features are an exact slice of the stack applied to the whole utterance: conv1 outputs
    ``160 f ..``, pooled ``80 f ..`` (the hop is a multiple of the pool size, so pooling windows
    stay aligned), conv2 outputs ``80 f .. 80 f + 260``. This layer convolves once and frames the
    result, equal to ``FramedFrontEnd(padding="valid")`` with the same weights.

    Input: [batch, time] sized by ``FramePadding``. Output: [batch, F, features] with
    ``features = conv_output_length(frame_length, valid) * filters // channel_pool`` (1,044).

    Masking: none consumed or produced (see ``FramePadding``).
    """

    def __init__(
        self,
        filters: int = 40,
        width: int = 40,
        time_pool: int = 2,
        channel_pool: int = 10,
        frame_length: int = 640,
        frame_step: int = 160,
        l2: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if frame_step % time_pool:
            raise ValueError("frame_step must be a multiple of time_pool for shared convolutions")
        self.filters = filters
        self.width = width
        self.time_pool = time_pool
        self.channel_pool = channel_pool
        self.frame_length = frame_length
        self.frame_step = frame_step
        self.l2 = l2
        self.conv1, self.pool, self.conv2 = make_conv_layers(filters, width, time_pool, "valid", l2)
        self.frame_steps = conv_output_length(frame_length, width, time_pool, "valid")
        self.features = self.frame_steps * filters // channel_pool

    def build(self, input_shape):
        self.conv1.build((None, None, 1))
        self.conv2.build((None, None, self.filters))

    def call(self, waveform):
        x = self.conv2(self.pool(self.conv1(tf.expand_dims(waveform, -1))))
        x = channel_max_pool(x, self.channel_pool)  # [batch, steps, filters // channel_pool]
        frames = frame(x, self.frame_steps, self.frame_step // self.time_pool)
        shape = tf.shape(frames)
        return tf.reshape(frames, [shape[0], shape[1], self.features])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None, self.features)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "width": self.width,
            "time_pool": self.time_pool,
            "channel_pool": self.channel_pool,
            "frame_length": self.frame_length,
            "frame_step": self.frame_step,
            "l2": self.l2,
        }
