"""How a training run uses the machine: a tf.distribute strategy and the float precision.

Strategies (``TrainConfig.strategy``):
  default      one device: TensorFlow's default strategy (the first GPU, else the CPU)
  mirrored     ``tf.distribute.MirroredStrategy`` over every local GPU; without GPUs, over every
               logical CPU device (one unless the process configured more, as the tests do)
  multiworker  ``tf.distribute.MultiWorkerMirroredStrategy`` across processes or machines, set up
               by the ``TF_CONFIG`` environment variable of each worker (same command on all;
               worker 0 is the chief and writes the run folder, the others write
               ``<out>/worker-<i>`` and can be deleted afterwards)
Every replica gets an equal share of each batch (``--batch-size`` is the global batch); gradients
are summed across replicas, so a run computes what one device would, up to float rounding.

Mixed precision (``TrainConfig.mixed_precision``): the ``mixed_float16`` Keras policy while the
model is built and trained (float16 compute, float32 weights, dynamic loss scaling by Keras); see
``kerasser.model.network`` for the layers that stay float32. Worth it on GPUs with tensor cores; on CPUs
float16 is slower.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator

from kerasser.config import STRATEGIES  # one list, kept with the config
from kerasser.errors import SettingsError

MIXED_POLICY = "mixed_float16"


def make_strategy(name: str):
    """The ``tf.distribute.Strategy`` of ``name`` (see the module docstring)."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if tf.config.list_logical_devices("GPU"):
            return tf.distribute.MirroredStrategy()
        return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise SettingsError("--strategy multiworker needs TF_CONFIG (the cluster and this worker's task) in the environment")
        return _reduce_per_tensor(tf.distribute.MultiWorkerMirroredStrategy())
    raise SettingsError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")


def _reduce_per_tensor(strategy):
    """``strategy`` with a ``reduce`` that takes what Keras 3's ``fit`` gives it. Two gaps of the
    multi-worker strategy's collective reduce: Keras reduces a whole (dict) input batch once to
    build the model symbolically, and the collective reduce takes single tensors only; Keras
    reduces the scalar loss and metrics with ``axis=0``, which a scalar has not (reduced across
    the workers, axis None, instead)."""
    import tensorflow as tf

    reduce = strategy.reduce

    def reduce_one(reduce_op, value, axis):
        if axis is not None and getattr(value, "shape", None) is not None and value.shape.rank == 0:
            axis = None
        return reduce(reduce_op, value, axis)

    def reduce_each(reduce_op, value, axis=None):
        return tf.nest.map_structure(lambda v: reduce_one(reduce_op, v, axis), value)

    strategy.reduce = reduce_each
    return strategy


def worker_index() -> int:
    """This process' worker index in ``TF_CONFIG`` (0 when there is none: the chief)."""
    config = os.environ.get("TF_CONFIG")
    if not config:
        return 0
    try:
        task = json.loads(config).get("task", {})
    except ValueError:
        raise SettingsError("TF_CONFIG is not JSON") from None
    return int(task.get("index", 0)) if task.get("type", "worker") in ("worker", "chief") else 0


def run_folder(out: str, strategy_name: str) -> str:
    """Where this process writes its run: ``out`` for the chief, ``out/worker-<i>`` for other
    workers of a multi-worker run (Keras' rule: one writer per file)."""
    index = worker_index() if strategy_name == "multiworker" else 0
    return out if index == 0 else os.path.join(out, f"worker-{index}")


@contextlib.contextmanager
def precision(mixed: bool) -> Iterator[None]:
    """The global Keras dtype policy set to ``mixed_float16`` inside (when ``mixed``), restored after."""
    import keras

    if not mixed:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(MIXED_POLICY)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
