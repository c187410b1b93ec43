"""SelfAttention: one pre-norm Transformer encoder block over a masked sequence."""

from __future__ import annotations

import keras
from keras import ops

from kerasser.model.layers.attention_ops import attend, layer_norm


@keras.saving.register_keras_serializable(package="kerasser")
class SelfAttention(keras.layers.Layer):
    """Refine a sequence ``x`` [batch, time, units] by self-attention (Vaswani et al., 2017, in
    the pre-norm arrangement):

        y = x + W_o attend(W_q n1(x), W_k n1(x), W_v n1(x))       (``heads`` heads, masked keys)
        z = y + W_2 relu(W_1 n2(y) + b_1) + b_2                  (``ffn_units`` hidden units)

    ``n1``, ``n2`` are layer normalisations; ``units`` is the input's, and must be a multiple of
    ``heads``. ``dropout`` (training only) drops attention and feed-forward outputs.

    Masking: takes the Keras mask or ``mask`` [batch, time] bool (True = real step). Masked steps
    are never attended to and come out as exact zeros, so padding cannot change the real steps'
    outputs. A row with no real step comes out all zero. The output carries the same mask.
    """

    def __init__(self, heads: int = 4, ffn_units: int | None = None, dropout: float = 0.0, seed: int | None = None,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if heads < 1 or not 0.0 <= dropout < 1.0:
            raise ValueError(f"heads must be at least 1 and dropout in [0, 1), not {heads}, {dropout}")
        self.heads = heads
        self.ffn_units = ffn_units
        self.dropout = dropout
        self.seed = seed
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def build(self, input_shape):
        units = input_shape[-1]
        if units % self.heads:
            raise ValueError(f"{units} units do not split into {self.heads} heads")
        hidden = self.ffn_units or 2 * units

        def weight(name, shape, initializer=None):
            return self.add_weight(name=name, shape=shape, initializer=initializer or self.kernel_initializer)

        self.norm1_gamma, self.norm1_beta = weight("norm1_gamma", (units,), "ones"), weight("norm1_beta", (units,), "zeros")
        self.query, self.key, self.value = (weight(n, (units, units)) for n in ("query", "key", "value"))
        self.output_kernel, self.output_bias = weight("output", (units, units)), weight("output_bias", (units,), "zeros")
        self.norm2_gamma, self.norm2_beta = weight("norm2_gamma", (units,), "ones"), weight("norm2_beta", (units,), "zeros")
        self.hidden_kernel, self.hidden_bias = weight("hidden", (units, hidden)), weight("hidden_bias", (hidden,), "zeros")
        self.ffn_kernel, self.ffn_bias = weight("ffn", (hidden, units)), weight("ffn_bias", (units,), "zeros")

    def _dropped(self, x, training):
        if training and self.dropout:
            return keras.random.dropout(x, self.dropout, seed=self.seed_generator)
        return x

    def call(self, inputs, mask=None, training=False):
        x = inputs
        n = layer_norm(x, self.norm1_gamma, self.norm1_beta)
        attended = attend(ops.matmul(n, self.query), ops.matmul(n, self.key), ops.matmul(n, self.value), mask,
                          self.heads)
        x = x + self._dropped(ops.matmul(attended, self.output_kernel) + self.output_bias, training)
        n = layer_norm(x, self.norm2_gamma, self.norm2_beta)
        hidden = ops.relu(ops.matmul(n, self.hidden_kernel) + self.hidden_bias)
        x = x + self._dropped(ops.matmul(hidden, self.ffn_kernel) + self.ffn_bias, training)
        if mask is not None:
            x = x * ops.cast(mask, x.dtype)[..., None]
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "heads": self.heads,
            "ffn_units": self.ffn_units,
            "dropout": self.dropout,
            "seed": self.seed,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
