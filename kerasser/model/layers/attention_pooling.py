"""AttentionPooling: a learned weighted average over time (Zhang et al., ICASSP 2019, eq. 3-4)."""

from __future__ import annotations

import keras
import ml_dtypes
from keras import ops


@keras.saving.register_keras_serializable(package="kerasser")
class AttentionPooling(keras.layers.Layer):
    """Pool a sequence ``h`` [batch, time, units] into one vector per row.

    ``alpha_i = softmax_i(w^T h_i)``, ``r = sum_i alpha_i h_i``, with one learned vector ``w``
    [units] (no bias: a constant shift of every score cancels in the softmax). These defaults are
    the paper's layer.

    Options: ``heads`` > 1 learns that many scoring vectors, pools once per head and concatenates
    the results head by head; ``statistics=True`` (attentive statistics, Okabe et al., 2018) also
    returns the weighted standard deviation ``sqrt(max(sum_i alpha_i h_i^2 - r^2, 0) + 1e-6)``,
    giving ``[r, s]`` per head. Output size: ``units * heads * (2 if statistics else 1)``.

    Masking: takes the Keras mask or an explicit ``mask`` [batch, time] bool (True = real step).
    Masked steps get weight exactly 0 and the softmax runs over the real steps only, so padding
    never changes ``r``. A row with no real step returns all-zero weights and ``r = 0`` (with
    statistics, its standard-deviation part is ``sqrt(1e-6)``). Masked scores are set to -1e9,
    or to the compute dtype's lowest finite value where -1e9 does not fit (-65504 in float16),
    never to -inf, so this holds under mixed precision too: no NaN, not even for a row with no
    real step. The output carries no mask.

    With ``return_attention=True`` the layer returns ``(r, alpha)``, ``alpha`` [batch, time]
    (with several heads, their mean: still a distribution over the real steps).

    Streaming: :meth:`step` folds a chunk of steps into a running state (an online softmax: the
    running maximum score, the sum of ``exp(score - max)`` and the sums of ``exp(score - max) h``
    and, with statistics, of ``exp(score - max) h^2``) and :meth:`pooled` reads ``r`` off it: after
    the last chunk that is the offline output for the whole sequence, to float rounding.
    """

    def __init__(
        self,
        return_attention: bool = False,
        heads: int = 1,
        statistics: bool = False,
        kernel_initializer="glorot_uniform",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if heads < 1:
            raise ValueError(f"heads must be at least 1, not {heads}")
        self.return_attention = return_attention
        self.heads = heads
        self.statistics = statistics
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.supports_masking = True

    def build(self, input_shape):
        self.kernel = self.add_weight(
            name="kernel",
            shape=(input_shape[-1], self.heads),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )

    def call(self, inputs, mask=None):
        scores = ops.matmul(inputs, self.kernel)  # [batch, time, heads]
        if mask is not None:
            mask = ops.expand_dims(ops.cast(mask, "bool"), -1)
            scores = ops.where(mask, scores, ops.full_like(scores, masked_score(scores.dtype)))
        alpha = ops.softmax(scores, axis=1)
        if mask is not None:
            alpha = alpha * ops.cast(mask, alpha.dtype)  # exact zeros; all-masked rows -> 0
        if self.heads == 1 and not self.statistics:  # the paper's layer
            alpha = ops.squeeze(alpha, -1)
            pooled = ops.sum(ops.expand_dims(alpha, -1) * inputs, axis=1)
            return (pooled, alpha) if self.return_attention else pooled
        mean = ops.einsum("bth,btu->bhu", alpha, inputs)  # [batch, heads, units]
        parts = [mean]
        if self.statistics:
            square = ops.einsum("bth,btu->bhu", alpha, ops.square(inputs))
            parts.append(ops.sqrt(ops.maximum(square - ops.square(mean), 0.0) + 1e-6))
        pooled = ops.concatenate(parts, axis=-1)  # [batch, heads, units * (1 or 2)]
        pooled = ops.reshape(pooled, (-1, self.output_units(inputs.shape[-1])))
        return (pooled, ops.mean(alpha, axis=-1)) if self.return_attention else pooled

    def initial_state(self, batch: int, units: int) -> list:
        """The state before the first step: [max score, weight sum, weighted sum(s)], zeros but
        the max score (the masked score; it never outlives a real step)."""
        parts = [ops.full((batch, self.heads), masked_score("float32")), ops.zeros((batch, self.heads))]
        return parts + [ops.zeros((batch, self.heads, units))] * (2 if self.statistics else 1)

    def step(self, inputs, valid, state: list) -> list:
        """The state after the next ``inputs`` [batch, time, units] of a sequence, ``valid``
        [batch, time] (1.0 for real steps; others get weight 0)."""
        scores = ops.matmul(inputs, self.kernel)  # [batch, time, heads]
        weight = ops.expand_dims(ops.cast(valid, scores.dtype), -1)
        scores = scores * weight + (1.0 - weight) * masked_score(scores.dtype)
        top, total, *sums = state
        new_top = ops.maximum(top, ops.max(scores, axis=1))
        scale = ops.exp(top - new_top)  # [batch, heads]
        e = ops.exp(scores - ops.expand_dims(new_top, 1)) * weight  # [batch, time, heads]
        new = [new_top, total * scale + ops.sum(e, axis=1),
               sums[0] * ops.expand_dims(scale, -1) + ops.einsum("bth,btu->bhu", e, inputs)]
        if self.statistics:
            new.append(sums[1] * ops.expand_dims(scale, -1) + ops.einsum("bth,btu->bhu", e, ops.square(inputs)))
        return new

    def pooled(self, state: list):
        """``r`` of the steps folded into ``state`` so far ([batch, output units]; 0 before any
        real step)."""
        _, total, *sums = state
        total = ops.expand_dims(total, -1)
        mean = ops.where(total > 0, sums[0] / ops.maximum(total, 1e-30), 0.0)  # [batch, heads, units]
        parts = [mean]
        if self.statistics:
            square = ops.where(total > 0, sums[1] / ops.maximum(total, 1e-30), 0.0)
            parts.append(ops.sqrt(ops.maximum(square - ops.square(mean), 0.0) + 1e-6))
        pooled = ops.concatenate(parts, axis=-1)
        return ops.reshape(pooled, (-1, self.output_units(ops.shape(sums[0])[-1])))

    def output_units(self, units: int) -> int:
        return units * self.heads * (2 if self.statistics else 1)

    def compute_mask(self, inputs, mask=None):
        return (None, None) if self.return_attention else None

    def compute_output_shape(self, input_shape):
        pooled = (input_shape[0], self.output_units(input_shape[-1]))
        return (pooled, tuple(input_shape[:2])) if self.return_attention else pooled

    def get_config(self):
        return {
            **super().get_config(),
            "return_attention": self.return_attention,
            "heads": self.heads,
            "statistics": self.statistics,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
        }


def masked_score(dtype) -> float:
    """The score given to masked steps: one the softmax turns into 0, finite in ``dtype``.

    -1e9, or the dtype's lowest finite value where -1e9 does not fit: in float16 -1e9 is -inf,
    and a row of -inf scores (a row with no real step) gives NaN weights. The float32 value stays
    -1e9, so float32 graphs (and their TFLite int8 ranges) are unchanged.
    """
    return max(-1e9, float(ml_dtypes.finfo(keras.backend.standardize_dtype(dtype)).min))
