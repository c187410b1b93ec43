"""SharedFrontEnd: one 'valid' convolution over the whole utterance, then framed features."""

from __future__ import annotations

import keras
import tensorflow as tf

from kerasser.model.layers.conv_stack import ConvFrontEndBase
from kerasser.model.layers.framing_ops import channel_max_pool, frame


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

    The utterance is convolved in chunks of ``chunk_hops`` hops: each chunk of waveform carries
    the few samples of context its 'valid' convolutions need from the next one, so the chunks'
    outputs join into exactly the whole-utterance convolution, with no output computed twice.
    TensorFlow's CPU kernels train about 1.4x faster on a batch of short chunks than on a few long
    sequences (``benchmarks/train_speed.py``); only the one-channel waveform is copied to chunk it.

    Masking: none consumed or produced (see ``FramePadding``).

    Arguments (see ``ConvFrontEndBase``): as ``FramedFrontEnd``; ``padding`` must be 'valid';
    ``chunk_hops``: hops of conv2 output per chunk (a computation detail: results are the same).
    """

    def __init__(self, padding: str = "valid", chunk_hops: int = 4, **kwargs):
        if padding != "valid":
            raise ValueError("the shared front end computes 'valid' convolutions only")
        super().__init__(padding=padding, **kwargs)
        if self.frame_step % self.time_pool:
            raise ValueError("frame_step must be a multiple of time_pool for shared convolutions")
        if chunk_hops < 1:
            raise ValueError("chunk_hops must be at least 1")
        self.chunk_hops = chunk_hops

    def build(self, input_shape):
        self.conv1.build((None, None, 1))
        self.conv2.build((None, None, self.filters))

    def call(self, waveform):
        width, pool = self.width, self.time_pool
        hop = self.frame_step // pool  # conv2 outputs per frame hop
        outputs = self.chunk_hops * hop  # conv2 outputs per chunk
        span = (outputs + width - 1) * pool + width - 1  # waveform samples one chunk needs
        step = outputs * pool  # waveform samples between chunks
        batch, time = tf.shape(waveform)[0], tf.shape(waveform)[1]
        steps = (time - width + 1) // pool - width + 1  # conv2 outputs of the whole utterance
        chunks = (steps + outputs - 1) // outputs
        needed = (chunks - 1) * step + span  # within pool - 1 samples of time, either side
        x = tf.pad(waveform, [[0, 0], [0, tf.maximum(needed - time, 0)]])[:, :needed]
        x = tf.reshape(frame(tf.expand_dims(x, -1), span, step), [-1, span, 1])
        x = channel_max_pool(self.conv2(self.pool(self.conv1(x))), self.channel_pool)
        x = tf.reshape(x, [batch, -1, self.filters // self.channel_pool])[:, :steps]
        frames = frame(x, self.frame_steps, hop)  # [batch, F, frame_steps, filters // channel_pool]
        shape = tf.shape(frames)
        return tf.reshape(frames, [shape[0], shape[1], self.features])

    def get_config(self):
        return {**super().get_config(), "chunk_hops": self.chunk_hops}
