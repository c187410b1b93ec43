"""SavedModel export, and the serving function every exported format is built from.

The serving contract (SavedModel ``serving_default`` and the TFLite signature alike):
  input   ``waveform`` float32 [1, N]: raw 16 kHz mono waveform, full scale 1.0, any N >= 1
          (the whole row is the utterance: the model's ``length`` input is ``tf.shape(waveform)[1:2]``);
  outputs ``{task}`` float32 [1, classes]: class probabilities, classes in ``TASKS[task].classes`` order;
          ``{task}_attention`` float32 [1, frames] for attention models: the attention weights over
          the frames, ``frames = 1 + ceil(max(0, N - 640) / 160)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from kerasser.export.metadata import INPUT_NAME, SIGNATURE_KEY
from kerasser.model import with_attention_outputs


def input_spec() -> tf.TensorSpec:
    """``waveform`` float32 [1, None]."""
    return tf.TensorSpec([1, None], tf.float32, name=INPUT_NAME)


def serving_function(model: keras.Model) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
    """``f(waveform [1, N]) -> {output name: tensor}`` on ``model`` with attention outputs added
    (inference mode: no dropout). A plain Python function: wrap it in ``tf.function`` with
    ``input_signature=[input_spec()]`` to trace it."""
    serving = with_attention_outputs(model)

    def serve(waveform):
        length = tf.shape(waveform)[1:2]  # batch 1: the whole row is valid
        return serving({"waveform": waveform, "length": length}, training=False)

    serve.model = serving  # keeps the model reachable for tracking
    return serve


def export_saved_model(model: keras.Model, path: str | os.PathLike) -> None:
    """Write ``model`` as a SavedModel folder at ``path`` (which must not exist yet).

    Signature ``serving_default``: input ``waveform`` float32 [1, N] (raw 16 kHz mono, any
    N >= 1); outputs ``{task}`` float32 [1, classes] (probabilities) and, for attention models,
    ``{task}_attention`` float32 [1, frames]. Variables are kept (not frozen); load it with
    ``tf.saved_model.load(path).signatures["serving_default"](waveform=...)``.
    """
    serve = serving_function(model)
    module = tf.Module()
    module.model = serve.model  # tracked: its variables are saved once
    module.serve = tf.function(serve, input_signature=[input_spec()])
    signatures = {SIGNATURE_KEY: module.serve.get_concrete_function()}
    tf.saved_model.save(module, os.fspath(path), signatures=signatures)


def load_saved_model(path: str | os.PathLike) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """The SavedModel's ``serving_default`` as ``f(waveform [N] float32) -> {name: array without
    the batch axis}`` (what the parity check compares)."""
    loaded = tf.saved_model.load(os.fspath(path))
    signature = loaded.signatures[SIGNATURE_KEY]

    def run(waveform: np.ndarray) -> dict[str, np.ndarray]:
        out = signature(**{INPUT_NAME: tf.constant(np.asarray(waveform, np.float32)[None])})
        return {k: v.numpy()[0] for k, v in out.items()}

    run.loaded = loaded  # keep the SavedModel's resources alive as long as ``run``
    return run
