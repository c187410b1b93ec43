"""Training losses."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasser")
class SparseCrossentropy(keras.losses.Loss):
    """Cross-entropy of probabilities against integer class labels, with label smoothing.

    ``label_smoothing`` = s spreads s of each target's mass evenly over all classes (Szegedy et
    al., 2016): the target is ``(1 - s) * one_hot + s / classes``. With s = 0 this equals
    ``keras.losses.SparseCategoricalCrossentropy`` (which has no smoothing option).
    """

    def __init__(self, label_smoothing: float = 0.0, name: str = "sparse_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        classes = ops.shape(y_pred)[-1]
        target = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), classes, dtype=y_pred.dtype)
        if self.label_smoothing:
            target = target * (1.0 - self.label_smoothing) + self.label_smoothing / ops.cast(classes, y_pred.dtype)
        return keras.losses.categorical_crossentropy(target, y_pred)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}
