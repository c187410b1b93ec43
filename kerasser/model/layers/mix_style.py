"""MixStyle: mix the feature statistics of the utterances of a batch, during training only."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasser")
class MixStyle(keras.layers.Layer):
    """Feature-statistics mixing (Zhou et al., *Domain Generalization with MixStyle*, ICLR 2021)
    on features [batch, time, channels].

    With probability ``probability`` per batch (training only; the identity at inference), each
    utterance's features are normalised by their own per-channel mean and standard deviation over
    its valid frames, then given a mixture of its statistics and a random partner's from the same
    batch: ``x' = (x - mu) / sigma * (lam sigma + (1 - lam) sigma_j) + (lam mu + (1 - lam) mu_j)``,
    ``lam ~ Beta(alpha, alpha)`` per utterance, the statistics held constant in the gradient (as in
    the paper). Statistics of early convolution features carry much of a recording's "style"
    (channel, room, speaker, corpus); a batch drawn from several corpora mixes them across corpora,
    so the layers after it learn to do without them. Draws come from a
    ``keras.random.SeedGenerator(seed)``.

    Masking: takes the Keras mask or ``mask`` [batch, time] bool; statistics use the valid frames
    only, and padded frames come out as they went in. A row with no valid frame comes out as it
    went in. The mask is passed on unchanged. Statistics are computed in float32.
    """

    def __init__(self, probability: float = 0.5, alpha: float = 0.1, epsilon: float = 1e-6,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= probability <= 1.0 or alpha <= 0:
            raise ValueError(f"probability must be in [0, 1] and alpha positive, not {probability}, {alpha}")
        self.probability = probability
        self.alpha = alpha
        self.epsilon = epsilon
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def mix(self, inputs, mask, lam, order):
        """The mixed features for given per-row weights ``lam`` [batch] and partners ``order``."""
        x = ops.cast(inputs, "float32")
        weight = ops.ones_like(x[..., :1]) if mask is None else ops.expand_dims(ops.cast(mask, "float32"), -1)
        count = ops.maximum(ops.sum(weight, axis=1, keepdims=True), 1.0)
        mean = ops.sum(x * weight, axis=1, keepdims=True) / count
        std = ops.sqrt(ops.sum(ops.square((x - mean) * weight), axis=1, keepdims=True) / count + self.epsilon)
        mean, std = ops.stop_gradient(mean), ops.stop_gradient(std)
        lam = ops.reshape(ops.cast(lam, "float32"), (-1, 1, 1))
        mixed_mean = lam * mean + (1.0 - lam) * ops.take(mean, order, axis=0)
        mixed_std = lam * std + (1.0 - lam) * ops.take(std, order, axis=0)
        mixed = (x - mean) / std * mixed_std + mixed_mean
        return ops.cast(ops.where(weight > 0, mixed, x), inputs.dtype)

    def call(self, inputs, mask=None, training=False):
        if not training or not self.probability:
            return inputs
        batch = ops.shape(inputs)[0]
        a = keras.random.gamma((batch,), self.alpha, seed=self.seed_generator)
        b = keras.random.gamma((batch,), self.alpha, seed=self.seed_generator)
        lam = a / ops.maximum(a + b, 1e-12)
        order = ops.argsort(keras.random.uniform((batch,), seed=self.seed_generator))
        apply = keras.random.uniform((), seed=self.seed_generator) < self.probability
        return ops.where(apply, self.mix(inputs, mask, lam, order), inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "probability": self.probability, "alpha": self.alpha,
                "epsilon": self.epsilon, "seed": self.seed}
