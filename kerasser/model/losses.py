"""Training losses: cross-entropy with label smoothing (optionally times a weight that training
sets, for learned loss weights), and CTC for the transcript task."""

from __future__ import annotations

import keras
from keras import ops

TINY = 1e-30  # log(p) floor: far below the smallest probability a CosineSoftmax of scale 30 gives (e^-60)


@keras.saving.register_keras_serializable(package="kerasser")
class SparseCrossentropy(keras.losses.Loss):
    """Cross-entropy of probabilities against integer class labels, with label smoothing.

    ``label_smoothing`` = s spreads s of each target's mass evenly over all classes (Szegedy et
    al., 2016): the target is ``(1 - s) * one_hot + s / classes``. With s = 0 this equals
    ``keras.losses.SparseCategoricalCrossentropy`` (which has no smoothing option).

    ``y_true`` may also be a distribution over the classes ([batch, classes], e.g. distillation
    targets, ``kerasser.training.distillation``); it is smoothed the same way. Which one is decided by the
    static rank: labels are [batch] or [batch, 1], distributions have the rank of ``y_pred``.

    ``y_true`` twice as wide as ``y_pred`` is ``[target, class mask]`` (``kerasser.data.label_space``):
    the cross-entropy is then over the probabilities renormalised over the masked classes,
    ``-log(p_y / sum_{c: mask_c > 0} p_c)`` (smoothing spreads over those classes only), so a
    class outside the mask gets no gradient at all: a clip is not taught that it is "not" a class
    its corpus cannot express.

    ``margin`` = m > 0 makes it the additive-margin softmax loss (AM-softmax / CosFace: Wang et
    al., 2018) for a ``kerasser.model.layers.CosineSoftmax`` head whose ``scale`` is ``logit_scale`` s: the logits
    are recovered from the probabilities (``log p``, up to a constant per row), ``s * m`` is taken
    from the true class's logit (from each class's logit times its target mass, for a
    distribution; before smoothing), and the cross-entropy is taken over the softmax of those.
    The true class must then win by a cosine margin m, not just win.
    """

    def __init__(self, label_smoothing: float = 0.0, margin: float = 0.0, logit_scale: float = 30.0,
                 name: str = "sparse_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing
        self.margin = margin
        self.logit_scale = logit_scale

    def call(self, y_true, y_pred):
        classes = ops.shape(y_pred)[-1]
        allowed = None
        if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 2 * y_pred.shape[-1]:
            # [target, class mask] (kerasser.data.label_space): only the masked classes compete
            target, mask = ops.split(ops.cast(y_true, y_pred.dtype), 2, axis=-1)
            allowed = ops.cast(mask > 0, y_pred.dtype)
            # a row with an empty mask (weight 0: a mixed pair of clips without the label) masks nothing
            allowed = ops.where(ops.sum(allowed, axis=-1, keepdims=True) > 0, allowed, ops.ones_like(allowed))
        elif len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] not in (1, None):
            target = ops.cast(y_true, y_pred.dtype)
        else:
            target = ops.one_hot(ops.cast(ops.reshape(y_true, (-1,)), "int32"), classes, dtype=y_pred.dtype)
        smoothed = target
        if self.label_smoothing:
            spread = (ops.ones_like(target) / ops.cast(classes, y_pred.dtype) if allowed is None
                      else allowed / ops.sum(allowed, axis=-1, keepdims=True))
            smoothed = target * (1.0 - self.label_smoothing) + self.label_smoothing * spread
        if not self.margin:
            if allowed is not None:  # renormalised over the allowed classes: -log(p_y / sum_allowed p)
                y_pred = y_pred * allowed / ops.maximum(ops.sum(y_pred * allowed, axis=-1, keepdims=True), TINY)
            return keras.losses.categorical_crossentropy(smoothed, y_pred)
        logits = ops.log(ops.maximum(y_pred, TINY)) - (self.logit_scale * self.margin) * target
        if allowed is not None:
            logits = ops.where(allowed > 0, logits, ops.full_like(logits, -1e9))
        return keras.losses.categorical_crossentropy(smoothed, logits, from_logits=True)

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing, "margin": self.margin,
                "logit_scale": self.logit_scale}


@keras.saving.register_keras_serializable(package="kerasser")
class ScaledCrossentropy(SparseCrossentropy):
    """``SparseCrossentropy`` times the weight in ``scale``, a variable that a callback changes
    between batches (learned loss weights, ``kerasser.model.uncertainty``).

    The weight is applied here, not as a Keras ``loss_weights`` entry, because those are fixed
    numbers in the compile configuration. Each call also stores, unweighted, what the callback
    needs in ``batch``: (the reduced loss as Keras reduces it, the number of examples, the sum of
    their sample weights). The variables are state, not configuration: they are not the model's
    weights, and a loss rebuilt from its config starts at weight 1 until the callback sets it.
    """

    def __init__(self, label_smoothing: float = 0.0, margin: float = 0.0, logit_scale: float = 30.0,
                 name: str = "scaled_crossentropy", **kwargs):
        super().__init__(label_smoothing, margin, logit_scale, name=name, **kwargs)
        self.scale = keras.Variable(1.0, trainable=False, name=f"{name}_scale")
        self.batch = keras.Variable([0.0, 0.0, 0.0], trainable=False, name=f"{name}_batch")

    def __call__(self, y_true, y_pred, sample_weight=None):
        loss = super().__call__(y_true, y_pred, sample_weight)
        examples = ops.cast(ops.shape(y_pred)[0], "float32")
        weight = examples if sample_weight is None else ops.sum(ops.cast(sample_weight, "float32"))
        self.batch.assign(ops.stack([ops.cast(loss, "float32"), examples, weight]))
        return loss * ops.cast(self.scale, loss.dtype)


@keras.saving.register_keras_serializable(package="kerasser")
class CTCLoss(keras.losses.Loss):
    """CTC loss per character, for the auxiliary transcript task (Cai et al., Interspeech 2021).

    ``y_true`` [batch, max_characters] int: character classes (1..), padded with 0 (the blank);
    ``y_pred`` [batch, steps, classes]: ``kerasser.model.layers.CTCOutput`` log-probabilities, whose
    padded steps are certain blanks, so every row uses all ``steps``. Each utterance's negative
    log-likelihood is divided by its number of characters (at least 1), which keeps the loss on
    the scale of a cross-entropy whatever the transcript's length; utterances without a
    transcript arrive with sample weight 0.
    """

    def __init__(self, name: str = "ctc", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        target_length = ops.sum(ops.cast(y_true > 0, "int32"), axis=-1)
        batch, steps = ops.shape(y_pred)[0], ops.shape(y_pred)[1]
        output_length = ops.full((batch,), steps, dtype="int32")
        nll = ops.ctc_loss(y_true, ops.cast(y_pred, "float32"), target_length, output_length, mask_index=0)
        return nll / ops.cast(ops.maximum(target_length, 1), "float32")
