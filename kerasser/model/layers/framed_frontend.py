"""FramedFrontEnd: the paper's per-frame convolutions (TimeDistributed Conv1D), trace-safe."""

from __future__ import annotations

import keras
import tensorflow as tf

from kerasser.model.layers.conv_stack import ConvFrontEndBase
from kerasser.model.layers.framing_ops import channel_max_pool, frame


@keras.saving.register_keras_serializable(package="kerasser")
class FramedFrontEnd(ConvFrontEndBase):
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

    Arguments (see ``ConvFrontEndBase``): ``filters``, ``width``, ``time_pool``, ``channel_pool``,
    ``padding`` ('same' as in the paper, or 'valid'), ``frame_length``, ``frame_step``, ``l2``.
    """

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
