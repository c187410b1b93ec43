"""AttentionPooling: a learned weighted average over time (Zhang et al., ICASSP 2019, eq. 3-4)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasser")
class AttentionPooling(keras.layers.Layer):
    """Pool a sequence ``h`` [batch, time, units] into one vector per row.

    ``alpha_i = softmax_i(w^T h_i)``, ``r = sum_i alpha_i h_i``, with one learned vector ``w``
    [units] (no bias: a constant shift of every score cancels in the softmax).

    Masking: takes the Keras mask or an explicit ``mask`` [batch, time] bool (True = real step).
    Masked steps get weight exactly 0 and the softmax runs over the real steps only, so padding
    never changes ``r``. A row with no real step returns ``r = 0`` and all-zero weights. The
    output carries no mask.

    With ``return_attention=True`` the layer returns ``(r, alpha)``, ``alpha`` [batch, time].
    """

    def __init__(
        self,
        return_attention: bool = False,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.return_attention = return_attention
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.supports_masking = True

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_shape[-1], 1),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )

    def call(self, inputs, mask=None):
        scores = ops.squeeze(ops.matmul(inputs, self.kernel), axis=-1)  # [batch, time]
        if mask is not None:
            mask = ops.cast(mask, "bool")
            scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
        alpha = ops.softmax(scores, axis=-1)
        if mask is not None:
            alpha = alpha * ops.cast(mask, alpha.dtype)  # exact zeros; all-masked rows -> 0
        pooled = ops.sum(ops.expand_dims(alpha, -1) * inputs, axis=1)
        return (pooled, alpha) if self.return_attention else pooled

    def compute_mask(self, inputs, mask=None):
        return (None, None) if self.return_attention else None

    def compute_output_shape(self, input_shape):
        pooled = (input_shape[0], input_shape[-1])
        return (pooled, tuple(input_shape[:2])) if self.return_attention else pooled

    def get_config(self):
        return {
            **super().get_config(),
            "return_attention": self.return_attention,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
        }
