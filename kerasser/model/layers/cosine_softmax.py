"""CosineSoftmax: a softmax over scaled cosine similarities, the head of the additive-margin
softmax (AM-softmax / CosFace: Wang et al., 2018), as ECAPA-TDNN recipes use."""

from __future__ import annotations

import keras
from keras import ops

# Added to squared norms: a vector much shorter than 1e-3 is shrunk, not stretched to unit length,
# so a near-zero input (a row of almost nothing) gives near-uniform probabilities instead of a
# direction made of rounding noise (which TFLite and TensorFlow round differently).
EPSILON = 1e-6


@keras.saving.register_keras_serializable(package="kerasser")
class CosineSoftmax(keras.layers.Layer):
    """``softmax(scale * cos(x, w_c))`` over the classes c: the input vector and each class's
    weight vector are L2-normalised before their dot product, so the logits lie in
    ``[-scale, scale]``. Inputs are [..., features] (here pooled vectors [batch, features]).

    The margin is not applied here: it needs the label, so the loss applies it
    (``kerasser.model.losses.SparseCrossentropy(margin=m, logit_scale=scale)`` subtracts ``scale * m`` from
    the true class's logit, recovered from these probabilities). At inference the layer is a
    plain classifier; it converts to TFLite builtins (multiply, sum, rsqrt, matmul, softmax).

    Args:
        units: number of classes.
        scale: the logits' scale s (30 in CosFace and SpeechBrain's ECAPA-TDNN recipes).
        kernel_initializer, kernel_regularizer: for the [features, units] class weights.

    Masking: none consumed or produced (it is applied to pooled vectors).
    """

    def __init__(self, units: int, scale: float = 30.0, kernel_initializer="glorot_uniform",
                 kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.scale = scale
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(input_shape[-1], self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            name="kernel",
        )

    def logits(self, inputs):
        """``scale * cos(x, w_c)`` per class: what the softmax is taken of (saliency explains these)."""
        kernel = ops.cast(self.kernel, inputs.dtype)
        w = kernel * ops.rsqrt(ops.sum(ops.square(kernel), axis=0, keepdims=True) + EPSILON)
        # the input's norm divides the dot products, not the input: written as x * rsqrt(|x|^2 + e),
        # the TFLite converter fuses it into L2_NORMALIZATION, whose own epsilon ignores EPSILON
        inverse_norm = ops.rsqrt(ops.sum(ops.square(inputs), axis=-1, keepdims=True) + EPSILON)
        return self.scale * ops.matmul(inputs, w) * inverse_norm

    def call(self, inputs):
        return ops.softmax(self.logits(inputs), axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "scale": self.scale,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
        }
