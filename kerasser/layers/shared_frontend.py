"""SharedFrontEnd: one 'valid' convolution over the whole utterance, then framed features."""

from __future__ import annotations

import keras
import tensorflow as tf

from kerasser.layers.conv_stack import ConvFrontEndBase
from kerasser.layers.framing_ops import channel_max_pool, frame


@keras.saving.register_keras_serializable(package="kerasser")
class SharedFrontEnd(ConvFrontEndBase):
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

    Arguments (see ``ConvFrontEndBase``): as ``FramedFrontEnd``; ``padding`` must be 'valid'.
    """

    def __init__(self, padding: str = "valid", **kwargs):
        if padding != "valid":
            raise ValueError("the shared front end computes 'valid' convolutions only")
        super().__init__(padding=padding, **kwargs)
        if self.frame_step % self.time_pool:
            raise ValueError("frame_step must be a multiple of time_pool for shared convolutions")

    def build(self, input_shape):
        self.conv1.build((None, None, 1))
        self.conv2.build((None, None, self.filters))

    def call(self, waveform):
        x = self.conv2(self.pool(self.conv1(tf.expand_dims(waveform, -1))))
        x = channel_max_pool(x, self.channel_pool)  # [batch, steps, filters // channel_pool]
        frames = frame(x, self.frame_steps, self.frame_step // self.time_pool)
        shape = tf.shape(frames)
        return tf.reshape(frames, [shape[0], shape[1], self.features])
