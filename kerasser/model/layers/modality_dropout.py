"""ModalityDropout: in training, take away one modality of some examples (their mask cleared)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasser")
class ModalityDropout(keras.layers.Layer):
    """Call on ``[audio_mask, text_mask]`` ([batch, frames] and [batch, tokens] bool, True = a
    real step); returns the two masks. In training, each example that has both modalities (a
    real frame and a real token) loses its text (mask cleared) with probability ``rate``; one that
    keeps its text loses its audio with probability ``rate / 2`` (overall ``(1 - rate) * rate / 2``).
    An example without text keeps its audio. At inference the masks pass unchanged.

    A model fusing by masked cross-attention (``BridgeFusion``) then learns to predict from the
    audio alone, which is what a missing transcript (an empty token sequence) gives at test time,
    and, less often, from the text alone, so that it learns to read the text at all. Draws come from a
    ``keras.random.SeedGenerator(seed)``.

    Masking: the masks are the inputs (no Keras mask is consumed or produced).
    """

    def __init__(self, rate: float = 0.5, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be in [0, 1), not {rate}")
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def drop(self, audio_mask, text_mask, draw):
        """The masks with the drops that per-example uniform draws ``draw`` [batch] make."""
        audio_mask, text_mask = ops.cast(audio_mask, "bool"), ops.cast(text_mask, "bool")
        both = ops.logical_and(ops.any(audio_mask, axis=1), ops.any(text_mask, axis=1))
        lose_text = ops.logical_and(both, draw < self.rate)
        lose_audio = ops.logical_and(both, ops.logical_and(draw >= self.rate,
                                                           draw < self.rate + (1.0 - self.rate) * self.rate / 2))
        return (ops.logical_and(audio_mask, ops.logical_not(lose_audio)[:, None]),
                ops.logical_and(text_mask, ops.logical_not(lose_text)[:, None]))

    def call(self, inputs, training=False):
        audio_mask, text_mask = inputs
        if not training or not self.rate:
            return ops.cast(audio_mask, "bool"), ops.cast(text_mask, "bool")
        draw = keras.random.uniform((ops.shape(audio_mask)[0],), seed=self.seed_generator)
        return self.drop(audio_mask, text_mask, draw)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0]), tuple(input_shape[1])

    def compute_mask(self, inputs, mask=None):
        return None, None

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
