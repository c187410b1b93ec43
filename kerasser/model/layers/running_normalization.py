"""RunningNormalization: subtract the mean of the frames so far (a causal sentence mean normalisation)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasser")
class RunningNormalization(keras.layers.Layer):
    """``y_t = x_t - mean(x_s for the valid s <= t)`` per feature, over [batch, time, features].

    The causal counterpart of ``UtteranceNormalization("mean")``: each frame is centred on the
    mean of the valid frames up to it (the first valid frame comes out 0), so a fixed channel and
    gain cancel after a few frames and no frame depends on a later one. :meth:`step` runs it on a
    stream with ``(sum, count)`` of the frames so far as its state, giving the same values.

    Masking: takes the Keras mask or an explicit ``mask`` [batch, time] bool; padded frames count
    in no mean and come out 0 (a frame before the first valid one too). The mask is passed on.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        weight = ops.ones_like(inputs[..., :1]) if mask is None else ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        y, _ = self._centre(inputs, weight, ops.zeros_like(inputs[:, :1]), ops.zeros_like(inputs[:, :1, :1]))
        return y

    def _centre(self, inputs, weight, total, count):
        sums = total + ops.cumsum(inputs * weight, axis=1)
        counts = count + ops.cumsum(weight, axis=1)
        y = (inputs - sums / ops.maximum(counts, 1.0)) * weight
        return y, (sums[:, -1:], counts[:, -1:])

    def step(self, inputs, valid, state):
        """``(outputs, state)`` for the next frames of a stream; ``state`` ``(sum [batch, 1,
        features], count [batch, 1, 1])``, zeros to start."""
        weight = ops.expand_dims(ops.cast(valid, inputs.dtype), -1)
        return self._centre(inputs, weight, *state)

    def compute_output_shape(self, input_shape):
        return input_shape
