"""Graph helpers for framing, shared by the layers (plain TensorFlow ops, TFLite builtins only).

Framing is written as a reshape into hop-sized blocks plus a concatenation of shifted slices,
not ``tf.signal.frame``: it keeps the time axis dynamic under tracing and lowers to
RESHAPE / STRIDED_SLICE / CONCATENATION in TFLite.
"""

from __future__ import annotations

import tensorflow as tf


def frame(x: tf.Tensor, frame_length: int, frame_step: int) -> tf.Tensor:
    """Split ``x`` [batch, time, channels] into overlapping frames.

    Returns [batch, frames, frame_length, channels] with
    ``frames = (time - frame_length) // frame_step + 1`` (the caller sizes ``time`` so that
    this is the count it wants); only complete frames are returned.
    """
    blocks_per_frame = -(-frame_length // frame_step)
    batch = tf.shape(x)[0]
    channels = x.shape[-1]
    frames = (tf.shape(x)[1] - frame_length) // frame_step + 1
    blocks = frames - 1 + blocks_per_frame
    x = tf.pad(x, [[0, 0], [0, blocks_per_frame * frame_step], [0, 0]])[:, : blocks * frame_step]
    x = tf.reshape(x, [batch, blocks, frame_step, channels])
    shifted = [x[:, i : i + frames] for i in range(blocks_per_frame)]
    x = tf.concat(shifted, axis=2) if blocks_per_frame > 1 else shifted[0]
    return x[:, :, :frame_length]


def frame_signal(x: tf.Tensor, frame_length: int, frame_step: int) -> tf.Tensor:
    """``frame(x[..., None], frame_length, frame_step)[..., 0]`` for a signal ``x`` [batch, time]
    (the same values: [batch, frames, frame_length]), as one GATHER of precomputed sample indices:
    in LiteRT about 4 times faster than the slices and concatenation of :func:`frame` when the
    time axis is dynamic, where those run as reference kernels (0.3 against 1.3 ms for 2 s)."""
    frames = (tf.shape(x)[1] - frame_length) // frame_step + 1
    indices = tf.range(frames)[:, None] * frame_step + tf.range(frame_length)[None]
    return tf.gather(x, indices, axis=1)


def channel_max_pool(x: tf.Tensor, pool: int) -> tf.Tensor:
    """Max over groups of ``pool`` adjacent channels: [..., C] -> [..., C // pool]."""
    channels = x.shape[-1]
    grouped = tf.reshape(x, tf.concat([tf.shape(x)[:-1], [channels // pool, pool]], axis=0))
    return tf.reduce_max(grouped, axis=-1)
