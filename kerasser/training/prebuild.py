"""Build what training creates lazily before ``fit`` traces its step.

With no distribution strategy set, Keras 3 (TensorFlow backend) builds the optimizer's slots and the
loss trackers inside the first trace of the train step; ``tf.function`` may create variables on its
first trace only, so it then traces the step a second time. On the default recipe that second trace
is about a third of ``kerasser train``'s start-up (seconds before the first epoch on a CPU).
``build_for_fit`` builds them first, from the dataset's element spec (no data is read, so the
dataset's seeded order is untouched): the step is traced once. Values are unchanged (the slots start
at zero either way)."""

from __future__ import annotations

import keras
import tensorflow as tf


def build_for_fit(model: keras.Model, dataset: tf.data.Dataset) -> None:
    """Build ``model``'s optimizer, compiled loss and metrics for batches shaped like ``dataset``'s.

    Uses Keras' own symbolic build (``Trainer._symbolic_build``, what ``fit`` does under a
    distribution strategy); a Keras without it keeps its lazy build (correct, only slower)."""
    symbolic_build = getattr(model, "_symbolic_build", None)
    if symbolic_build is None or (model.optimizer is not None and model.optimizer.built):
        return
    batch = tf.nest.map_structure(lambda spec: keras.KerasTensor(spec.shape, spec.dtype), dataset.element_spec)
    symbolic_build(data_batch=batch)
