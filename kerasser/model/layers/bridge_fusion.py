"""BridgeFusion: learnable bridge tokens that gather several modalities by cross-attention."""

from __future__ import annotations

import keras
from keras import ops

from kerasser.model.layers.attention_ops import attend, layer_norm


@keras.saving.register_keras_serializable(package="kerasser")
class BridgeFusion(keras.layers.Layer):
    """``tokens`` learnable bridge tokens ``B`` [tokens, units] merge the sequences of
    ``modalities`` modalities (acoustic frames, transcript characters) by cross-attention:

        c_m = W_o,m attend(W_q n_q(B), W_k,m n_m(x_m), W_v,m n_m(x_m))     (per modality m, masked)
        y   = B + sum_m c_m
        z   = y + W_2 relu(W_1 n_f(y) + b_1) + b_2

    Call on ``[x_1, mask_1, x_2, mask_2, ...]``: each ``x_m`` [batch, time_m, units] (the time
    axes may differ) with its mask [batch, time_m] bool (True = real step). Returns the fused
    tokens [batch, tokens, units], which task heads pool. ``n_*`` are layer normalisations,
    ``heads`` attention heads (``units`` a multiple of them), ``ffn_units`` the feed-forward
    width (default ``2 * units``). ``W_o,m`` has no bias: a modality that is absent from a row
    (every step masked: no transcript, or dropped by ``ModalityDropout``) adds exactly zero, so
    the row's output is what the other modalities alone give.

    Masking: the explicit masks in the input list (no Keras mask is consumed or produced);
    masked steps get attention weight exactly 0, so padding never changes the output.
    """

    def __init__(self, tokens: int = 4, modalities: int = 2, heads: int = 4, ffn_units: int | None = None,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if tokens < 1 or modalities < 1 or heads < 1:
            raise ValueError(f"tokens, modalities and heads must be at least 1, not {tokens}, {modalities}, {heads}")
        self.tokens = tokens
        self.modalities = modalities
        self.heads = heads
        self.ffn_units = ffn_units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        if len(input_shape) != 2 * self.modalities:
            raise ValueError(f"expected [x, mask] for each of {self.modalities} modalities, got {len(input_shape)} inputs")
        units = input_shape[0][-1]
        if units % self.heads or any(shape[-1] != units for shape in input_shape[::2]):
            raise ValueError(f"every modality needs the same units, a multiple of {self.heads} heads")
        hidden = self.ffn_units or 2 * units

        def weight(name, shape, initializer=None):
            return self.add_weight(name=name, shape=shape, initializer=initializer or self.kernel_initializer)

        self.bridge = weight("bridge", (self.tokens, units), keras.initializers.RandomNormal(stddev=0.02))
        self.query_gamma, self.query_beta = weight("query_gamma", (units,), "ones"), weight("query_beta", (units,), "zeros")
        self.query = weight("query", (units, units))
        self.per_modality = []
        for m in range(self.modalities):
            self.per_modality.append(tuple(
                weight(f"{name}_{m}", shape, init) for name, shape, init in (
                    ("gamma", (units,), "ones"), ("beta", (units,), "zeros"), ("key", (units, units), None),
                    ("value", (units, units), None), ("output", (units, units), None))))
        self.ffn_gamma, self.ffn_beta = weight("ffn_gamma", (units,), "ones"), weight("ffn_beta", (units,), "zeros")
        self.hidden_kernel, self.hidden_bias = weight("hidden", (units, hidden)), weight("hidden_bias", (hidden,), "zeros")
        self.ffn_kernel, self.ffn_bias = weight("ffn", (hidden, units)), weight("ffn_bias", (units,), "zeros")

    def call(self, inputs):
        first = inputs[0]
        bridge = ops.broadcast_to(ops.cast(self.bridge, first.dtype)[None],
                                  (ops.shape(first)[0], self.tokens, self.bridge.shape[-1]))  # [batch, tokens, units]
        query = ops.matmul(layer_norm(bridge, self.query_gamma, self.query_beta), self.query)
        fused = bridge
        for m, (gamma, beta, key, value, output) in enumerate(self.per_modality):
            x, mask = inputs[2 * m], inputs[2 * m + 1]
            n = layer_norm(x, gamma, beta)
            fused = fused + ops.matmul(attend(query, ops.matmul(n, key), ops.matmul(n, value), mask, self.heads), output)
        n = layer_norm(fused, self.ffn_gamma, self.ffn_beta)
        hidden = ops.relu(ops.matmul(n, self.hidden_kernel) + self.hidden_bias)
        return fused + ops.matmul(hidden, self.ffn_kernel) + self.ffn_bias

    def compute_output_shape(self, input_shape):
        return input_shape[0][0], self.tokens, input_shape[0][-1]

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {
            **super().get_config(),
            "tokens": self.tokens,
            "modalities": self.modalities,
            "heads": self.heads,
            "ffn_units": self.ffn_units,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
