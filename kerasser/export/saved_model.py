"""SavedModel export, and the serving function every exported format is built from.

``serving_function`` implements the serving contract of ``kerasser.contract`` on a Keras model:
the whole ``waveform`` row is the utterance (the model's ``length`` input is
``tf.shape(waveform)[1:2]``); a speaker-normalising model also takes ``reference``, and
``statistics_function`` makes it; a text model also takes ``text`` (token ids).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from kerasser.contract import INPUT_NAME, REFERENCE_NAME, SIGNATURE_KEY, STATISTICS_SIGNATURE, TEXT_NAME
from kerasser.model.network import REFERENCE, with_attention_outputs
from kerasser.model.speaker_reference import statistics_model
from kerasser.text_input import TEXT_INPUT


def input_spec() -> tf.TensorSpec:
    """``waveform`` float32 [1, None]."""
    return tf.TensorSpec([1, None], tf.float32, name=INPUT_NAME)


def reference_spec(model: keras.Model) -> tf.TensorSpec:
    """``reference`` float32 [1, mel_bins] of a speaker-normalising model."""
    return tf.TensorSpec([1, model.input[REFERENCE].shape[-1]], tf.float32, name=REFERENCE_NAME)


def text_spec() -> tf.TensorSpec:
    """``text`` int32 [1, None] of a text model: the transcript's token ids."""
    return tf.TensorSpec([1, None], tf.int32, name=TEXT_NAME)


def input_specs(model: keras.Model) -> list[tf.TensorSpec]:
    """The serving function's inputs: ``[waveform]``, then ``reference`` (a speaker-normalising
    model) and ``text`` (a text model) where the model takes them."""
    specs = [input_spec()]
    if REFERENCE in model.input:
        specs.append(reference_spec(model))
    if TEXT_INPUT in model.input:
        specs.append(text_spec())
    return specs


def serving_function(model: keras.Model) -> Callable[..., dict[str, tf.Tensor]]:
    """``f(waveform [1, N][, reference [1, mel_bins]][, text [1, T]]) -> {output name: tensor}``
    on ``model`` with attention outputs added (inference mode: no dropout); ``reference`` only for
    a speaker-normalising model, ``text`` only for a text model. A plain Python function: wrap it in
    ``tf.function`` with ``input_signature=input_specs(model)`` to trace it."""
    serving = with_attention_outputs(model)
    names = [spec.name for spec in input_specs(model)]  # the model's own input names too

    def serve(*inputs):
        given = dict(zip(names, inputs, strict=True))
        length = tf.shape(given[INPUT_NAME])[1:2]  # batch 1: the whole row is valid
        return serving({**given, "length": length}, training=False)

    serve.model = serving  # keeps the model reachable for tracking
    return serve


def statistics_function(model: keras.Model) -> Callable[[tf.Tensor], dict[str, tf.Tensor]]:
    """``f(waveform [1, N]) -> {"log_mel_sum": [1, mel_bins], "frames": [1]}`` of a
    speaker-normalising model (``kerasser.model.speaker_reference.statistics_model``)."""
    statistics = statistics_model(model)

    def stats(waveform):
        return statistics({"waveform": waveform, "length": tf.shape(waveform)[1:2]}, training=False)

    stats.model = statistics
    return stats


def export_saved_model(model: keras.Model, path: str | os.PathLike) -> None:
    """Write ``model`` as a SavedModel folder at ``path`` (which must not exist yet).

    Signature ``serving_default``, the serving contract of ``kerasser.contract`` (and
    ``speaker_statistics`` for a speaker-normalising model). Variables are kept (not frozen); load
    it with ``tf.saved_model.load(path).signatures["serving_default"](waveform=...)``.
    """
    serve = serving_function(model)
    module = tf.Module()
    module.model = serve.model  # tracked: its variables are saved once
    module.serve = tf.function(serve, input_signature=input_specs(model))
    signatures = {SIGNATURE_KEY: module.serve.get_concrete_function()}
    if REFERENCE in model.input:
        module.stats = tf.function(statistics_function(model), input_signature=[input_spec()])
        signatures[STATISTICS_SIGNATURE] = module.stats.get_concrete_function()
    tf.saved_model.save(module, os.fspath(path), signatures=signatures)


def load_saved_model(path: str | os.PathLike, signature_key: str = SIGNATURE_KEY) -> Callable[..., dict[str, np.ndarray]]:
    """A SavedModel signature as ``f(waveform [N] float32[, reference [mel_bins]][, text=token ids
    [T]]) -> {name: array without the batch axis}`` (what the parity check compares)."""
    loaded = tf.saved_model.load(os.fspath(path))
    signature = loaded.signatures[signature_key]

    def run(waveform: np.ndarray, reference: np.ndarray | None = None, text: np.ndarray | None = None
            ) -> dict[str, np.ndarray]:
        inputs = {INPUT_NAME: tf.constant(np.asarray(waveform, np.float32)[None])}
        if reference is not None:
            inputs[REFERENCE_NAME] = tf.constant(np.asarray(reference, np.float32)[None])
        if text is not None:
            inputs[TEXT_NAME] = tf.constant(np.asarray(text, np.int32).reshape(1, -1))
        out = signature(**inputs)
        return {k: v.numpy()[0] for k, v in out.items()}

    run.loaded = loaded  # keep the SavedModel's resources alive as long as ``run``
    return run
