"""CTCOutput: per-step character log-probabilities for the CTC auxiliary task, padding as blanks."""

from __future__ import annotations

import keras
from keras import ops

from kerasser.model.layers.attention_pooling import masked_score


@keras.saving.register_keras_serializable(package="kerasser")
class CTCOutput(keras.layers.Layer):
    """Log-softmax over ``[batch, steps, classes]`` logits, class ``blank`` (0) being CTC's blank.

    Masking: takes the Keras mask or an explicit ``mask`` [batch, steps] bool. A masked (padded)
    step is a certain blank: log-probability 0 for ``blank`` and the dtype's lowest finite value
    for every other class, whatever its logits. Trailing certain blanks change no CTC path's
    probability, so the CTC loss over all ``steps`` of a padded batch equals the loss over each
    row's own steps: the loss needs no output lengths, and padding never changes it. Returns no
    mask.
    """

    def __init__(self, blank: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.blank = blank
        self.supports_masking = True

    def call(self, inputs, mask=None):
        log_probs = ops.log_softmax(inputs, axis=-1)
        if mask is None:
            return log_probs
        classes = ops.shape(inputs)[-1]
        is_blank = ops.arange(classes) == self.blank
        certain_blank = ops.where(is_blank, 0.0, masked_score(inputs.dtype))
        certain_blank = ops.cast(certain_blank, log_probs.dtype)
        valid = ops.expand_dims(ops.cast(mask, "bool"), -1)
        return ops.where(valid, log_probs, ops.broadcast_to(certain_blank, ops.shape(log_probs)))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "blank": self.blank}
