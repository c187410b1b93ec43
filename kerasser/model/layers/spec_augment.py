"""SpecAugment: random time and frequency masks on features, during training only."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasser")
class SpecAugment(keras.layers.Layer):
    """Zero ``time_masks`` random spans of up to ``max_time_width`` frames and ``freq_masks``
    random bands of up to ``max_freq_width`` features (Park et al., 2019), per utterance.

    Active only with ``training=True`` (like Dropout); at inference the layer is the identity,
    so exported models do not contain it in any effective way. Draws come from a
    ``keras.random.SeedGenerator(seed)``: the same seed repeats the same masks.

    Apply it after per-utterance normalisation, so 0 is the utterance's mean. Each mask's width
    ``w`` is uniform in [0, max width] and its start uniform in [0, size - w) over the whole
    (padded) axis, as in Park et al.; a mask that falls on padding changes nothing.

    Masking: passes the Keras mask through; masked frames stay as they were (0 after
    ``UtteranceNormalization``).
    """

    def __init__(
        self,
        time_masks: int = 2,
        max_time_width: int = 20,
        freq_masks: int = 2,
        max_freq_width: int = 10,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.time_masks = time_masks
        self.max_time_width = max_time_width
        self.freq_masks = freq_masks
        self.max_freq_width = max_freq_width
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def _keep(self, batch, size, masks: int, max_width: int):
        """[batch, size] float: 0 inside any of ``masks`` random spans per row, 1 elsewhere."""
        position = ops.arange(size, dtype="float32")[None, None, :]
        width = ops.floor(
            keras.random.uniform((batch, masks, 1), 0.0, max_width + 1.0, seed=self.seed_generator)
        )
        start = ops.floor(
            keras.random.uniform((batch, masks, 1), 0.0, 1.0, seed=self.seed_generator)
            * ops.maximum(ops.cast(size, "float32") - width, 1.0)
        )
        inside = ops.logical_and(position >= start, position < start + width)
        return 1.0 - ops.max(ops.cast(inside, "float32"), axis=1)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        shape = ops.shape(inputs)
        batch, time, features = shape[0], shape[1], shape[2]
        keep = ops.ones_like(inputs, dtype="float32")  # the masks are drawn in float32
        if self.time_masks and self.max_time_width:
            keep = keep * ops.expand_dims(self._keep(batch, time, self.time_masks, self.max_time_width), -1)
        if self.freq_masks and self.max_freq_width:
            keep = keep * ops.expand_dims(self._keep(batch, features, self.freq_masks, self.max_freq_width), 1)
        return inputs * ops.cast(keep, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "time_masks": self.time_masks,
            "max_time_width": self.max_time_width,
            "freq_masks": self.freq_masks,
            "max_freq_width": self.max_freq_width,
            "seed": self.seed,
        }
