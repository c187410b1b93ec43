"""GradientReversal: identity forward, gradient times -weight backward (Ganin & Lempitsky, 2015)."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="kerasser")
class GradientReversal(keras.layers.Layer):
    """``y = x``; ``dL/dx = -weight * dL/dy``.

    Put between an encoder and an adversary (here a speaker classifier): the adversary learns to
    tell speakers apart while the encoder is pushed to make them indistinguishable, so the
    features it keeps carry less speaker identity. ``weight`` = 0 lets no gradient through.

    Masking: none consumed or produced (it is applied to pooled vectors).
    """

    def __init__(self, weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.weight = weight

    def call(self, inputs):
        weight = self.weight

        @tf.custom_gradient
        def reverse(x):
            def grad(upstream):
                return -weight * upstream

            return tf.identity(x), grad

        return reverse(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}
