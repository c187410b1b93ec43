"""SavedModel export, and the serving function every exported format is built from.

``serving_function`` implements the serving contract of ``kerasser.contract`` on a Keras model:
the whole ``waveform`` row is the utterance (the model's ``length`` input is
``tf.shape(waveform)[1:2]``).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from kerasser.contract import INPUT_NAME, SIGNATURE_KEY
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

    Signature ``serving_default``, the serving contract of ``kerasser.contract``. Variables are
    kept (not frozen); load it with
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
