"""LastStepPooling: the baseline pooling, the recurrent output at each row's last real step."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasser")
class LastStepPooling(keras.layers.Layer):
    """Pick ``h[b, t_b]`` from ``h`` [batch, time, units], ``t_b`` the last real step of row b.

    Masking: takes the Keras mask or an explicit ``mask`` [batch, time] bool. The mask must be a
    prefix (real steps first, padding after: right padding, as ``FramePadding`` makes), so the
    last real step is ``sum(mask) - 1``. Without a mask the last step is taken; a row with no
    real step yields step 0. The output carries no mask. No weights.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        steps = ops.shape(inputs)[1]
        if mask is None:
            return inputs[:, -1]
        last = ops.maximum(ops.sum(ops.cast(mask, "int32"), axis=1) - 1, 0)
        pick = ops.one_hot(last, steps, dtype=inputs.dtype)  # [batch, time]
        return ops.sum(ops.expand_dims(pick, -1) * inputs, axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])
