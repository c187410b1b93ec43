"""ClassGrouping: a distribution over classes summed into one over groups of those classes."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasser")
class ClassGrouping(keras.layers.Layer):
    """``q_g = sum(p_c for the classes c with groups[c] = g)``: class probabilities ``p`` [batch,
    classes] -> group probabilities ``q`` [batch, num_groups].

    ``groups[c]`` is the group of class ``c`` (0 .. ``num_groups`` - 1; a group may have no class,
    then its probability is 0). Used to read a dimension task off the emotion head where the
    dimension is defined by the emotion (PROTOCOL.md's emotion -> arousal / valence / dominance
    levels, ``kerasser.tasks.EMOTION_LEVELS``): the dimension's probability of "high" is the
    emotion head's probability of the emotions rated high. Trained through it, the dimension's
    cross-entropy is the log-likelihood of the emotion head's group: it trains the emotion head.
    If ``p`` sums to 1 over the classes, ``q`` sums to 1 over the groups.

    ``groups[c] = -1`` leaves class ``c`` out of every group (an emotion without a level, such as
    RAVDESS' calm): ``q`` is then renormalised over the classes that have a group,
    ``q_g = sum_{c in g} p_c / sum_{c: groups[c] >= 0} p_c``, the levels given that the clip is one
    of the emotions that have one.

    Masking: none consumed or produced (it is applied to per-utterance probabilities).
    """

    def __init__(self, groups, num_groups: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.groups = tuple(int(g) for g in groups)
        self.num_groups = max(self.groups, default=-1) + 1 if num_groups is None else int(num_groups)
        if max(self.groups, default=-1) < 0 or min(self.groups) < -1 or max(self.groups) >= self.num_groups:
            raise ValueError(f"groups must be in 0..{self.num_groups - 1} (or -1 for none), with one or more "
                             f"in a group, got {self.groups}")

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != len(self.groups):
            raise ValueError(f"{len(self.groups)} groups given for {input_shape[-1]} classes")

    def call(self, inputs):
        membership = ops.one_hot(ops.convert_to_tensor(self.groups, "int32"), self.num_groups, dtype=inputs.dtype)
        grouped = ops.matmul(inputs, membership)  # a class of group -1 has an all-zero row
        if min(self.groups) >= 0:
            return grouped
        return grouped / ops.maximum(ops.sum(grouped, axis=-1, keepdims=True), 1e-30)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.num_groups)

    def get_config(self):
        return {**super().get_config(), "groups": list(self.groups), "num_groups": self.num_groups}
