"""TokenEmbedding: token ids -> learned embeddings plus fixed sinusoidal positions, and their mask."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from kerasser.text_input import MAX_TOKENS, PAD


def sinusoids(length: int, units: int) -> np.ndarray:
    """The sinusoidal position table [length, units] (Vaswani et al., 2017): sines on the even
    columns, cosines on the odd ones, wavelengths 2 pi .. 10000 * 2 pi."""
    position = np.arange(length)[:, None]
    rate = 1.0 / np.power(10000.0, (2 * (np.arange(units) // 2)) / units)
    angle = position * rate[None, :]
    return np.where(np.arange(units) % 2 == 0, np.sin(angle), np.cos(angle)).astype(np.float32)


@keras.saving.register_keras_serializable(package="kerasser")
class TokenEmbedding(keras.layers.Layer):
    """Embed token ids [batch, tokens] (int; ``kerasser.text_input``: 0 is padding) as
    ``E[id] * sqrt(units) + P[position]``, ``E`` a learned [vocabulary_size, units] table and
    ``P`` the fixed sinusoidal table (:func:`sinusoids`, a non-trainable weight of
    ``max_length`` rows, so no sine or cosine op reaches TFLite). Returns ``[embeddings, mask]``:
    ``embeddings`` [batch, tokens, units], zero at padding, and ``mask`` [batch, tokens] bool,
    True for a real token (id != 0). Ids past ``max_length`` tokens are cut; ids outside the
    table are clipped into it.

    Masking: this layer *creates* the token mask from the ids (no Keras mask is consumed or
    produced); padding gives zero embeddings, so it cannot change what a later layer computes
    from the real tokens through a masked attention or a 'same' convolution's zero border.
    """

    def __init__(self, vocabulary_size: int, units: int, max_length: int = MAX_TOKENS,
                 embeddings_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if vocabulary_size < 2 or units < 1 or max_length < 1:
            raise ValueError(f"need vocabulary_size >= 2, units and max_length >= 1, not "
                             f"{vocabulary_size}, {units}, {max_length}")
        self.vocabulary_size = vocabulary_size
        self.units = units
        self.max_length = max_length
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape):
        self.embeddings = self.add_weight(name="embeddings", shape=(self.vocabulary_size, self.units),
                                          initializer=self.embeddings_initializer)
        self.positions = self.add_weight(name="positions", shape=(self.max_length, self.units),
                                         initializer="zeros", trainable=False)
        self.positions.assign(sinusoids(self.max_length, self.units))

    def call(self, inputs):
        ids = ops.cast(inputs, "int32")[:, : self.max_length]
        mask = ops.not_equal(ids, PAD)
        ids = ops.clip(ids, 0, self.vocabulary_size - 1)
        x = ops.take(ops.cast(self.embeddings, self.compute_dtype), ids, axis=0)
        x = x * ops.cast(self.units**0.5, self.compute_dtype)
        x = x + ops.cast(self.positions, self.compute_dtype)[None, : ops.shape(ids)[1]]
        return x * ops.cast(mask, self.compute_dtype)[..., None], mask

    def compute_output_shape(self, input_shape):
        return (*input_shape[:2], self.units), tuple(input_shape[:2])

    def compute_mask(self, inputs, mask=None):
        return None, None

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "units": self.units,
            "max_length": self.max_length,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }
