"""ReferenceNormalization: subtract a given reference vector (a speaker's mean features) from
every frame: speaker-level normalisation, where UtteranceNormalization is per utterance."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasser")
class ReferenceNormalization(keras.layers.Layer):
    """``[features [batch, time, features], reference [batch, features]] -> features - reference``
    on every valid frame.

    The reference is the mean feature vector over all valid frames of all the clips of the
    utterance's speaker (``kerasser.model.speaker_reference``): each speaker is judged against that
    speaker's own average, as PROTOCOL.md's speaker-normalised openSMILE baselines standardise
    their features per speaker, and an utterance keeps its level and spectral shape relative to
    the speaker's (sentence mean normalisation removes them). With the utterance's own mean as its
    reference this equals ``UtteranceNormalization(mode="mean")``.

    Masking: takes the Keras mask of the features or an explicit ``mask`` [batch, time] bool;
    padded frames come out as exactly 0, so padding never changes a valid frame. The mask is
    passed on unchanged. Computed in float32 whatever the compute dtype.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        features, reference = inputs
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        dtype = features.dtype
        features = ops.cast(features, "float32")
        centred = features - ops.expand_dims(ops.cast(reference, "float32"), 1)
        if mask is not None:
            centred = centred * ops.expand_dims(ops.cast(mask, "float32"), -1)
        return ops.cast(centred, dtype)

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            return mask[0]
        return mask

    def compute_output_shape(self, input_shape):
        return input_shape[0]
