"""The step model (kerasser.export.streaming, kerasser.serve.stream): a causal model run chunk by
chunk gives the offline model's probabilities on the same audio, in TensorFlow and in LiteRT, fed in
pieces of any size; models that are not causal are refused."""

from __future__ import annotations

import numpy as np
import pytest
from tiny import TINY_CAUSAL, TINY_LOGMEL

from kerasser.config import ModelConfig
from kerasser.errors import SettingsError

CHUNK = 1600


def causal_model(rng, **changes):
    """A tiny causal model (emotion read off for dominance, as the tiny recipe) with random
    batch-norm statistics, so every part of the step matters."""
    from kerasser.model.network import build_model, read_from_emotion

    config = ModelConfig(tasks=("arousal", "dominance", "emotion"), readout_tasks=("dominance",),
                         **{**TINY_CAUSAL, **changes})
    model = read_from_emotion(build_model(config), config.readout_tasks, config.emotion_classes)
    for w in model.weights:
        if "moving_variance" in w.path:
            w.assign(rng.uniform(0.5, 2.0, w.shape).astype(np.float32))
        elif any(k in w.path for k in ("moving_mean", "gamma", "beta")):
            w.assign(rng.normal(size=w.shape).astype(np.float32))
    return model


def offline(model, wave: np.ndarray) -> dict:
    out = model({"waveform": wave[None], "length": np.array([len(wave)], np.int32)})
    return {k: np.asarray(v)[0] for k, v in out.items()}


def stepped(model, wave: np.ndarray):
    """The step function's outputs after each whole chunk of ``wave``, fed chunk by chunk from a zero state."""
    import tensorflow as tf

    from kerasser.export.streaming import step_function

    step, layout = step_function(model, CHUNK)
    state = tf.zeros((1, layout.size))
    for i in range(len(wave) // CHUNK):
        out = step(tf.constant(wave[None, i * CHUNK:(i + 1) * CHUNK]), state)
        state = out["state"]
        yield out


def test_step_function_chunk_by_chunk_equals_the_offline_model(rng):
    model = causal_model(rng)
    wave = rng.normal(scale=0.1, size=4 * CHUNK).astype(np.float32)
    for i, out in enumerate(stepped(model, wave)):
        partial = offline(model, wave[:(i + 1) * CHUNK])  # the probabilities of the audio so far
        for task in partial:
            np.testing.assert_allclose(np.asarray(out[task])[0], partial[task], atol=1e-5)


def test_litert_step_model_fed_in_odd_pieces_equals_the_offline_model(rng, tmp_path):
    """Exported to TFLite and run by kerasser.serve.stream.StepRunner (LiteRT), pushed pieces of
    700, 2500 and the rest samples: one result per whole chunk, the last the offline model's."""
    from kerasser.export.streaming import export_step
    from kerasser.serve.stream import StepRunner

    model = causal_model(rng, pool_heads=1, pool_statistics=False)
    wave = rng.normal(scale=0.1, size=3 * CHUNK).astype(np.float32)
    _, layout = export_step(model, tmp_path / "step.tflite", CHUNK)
    runner = StepRunner(tmp_path / "step.tflite", CHUNK, layout.size, list(model.output))
    results = runner.push(wave[:700]) + runner.push(wave[700:3200]) + runner.push(wave[3200:])
    assert len(results) == 3 and runner.samples == 3 * CHUNK
    want = offline(model, wave)
    for task in want:
        np.testing.assert_allclose(results[-1][task], want[task], atol=1e-5)
    np.testing.assert_allclose(runner.run(wave)["emotion"], want["emotion"], atol=1e-5)  # run() starts afresh


def test_models_that_are_not_causal_have_no_step_model(rng):
    from kerasser.export.streaming import step_function
    from kerasser.model.network import build_model

    model = build_model(ModelConfig(tasks=("arousal",), **TINY_LOGMEL))
    with pytest.raises(SettingsError, match="not a causal block|no step model"):
        step_function(model, CHUNK)


def test_a_chunk_is_a_whole_number_of_hops(rng):
    from kerasser.export.streaming import step_function

    with pytest.raises(SettingsError, match="whole number"):
        step_function(causal_model(rng), CHUNK + 1)


def test_causal_settings_are_checked():
    with pytest.raises(SettingsError, match="causal"):
        ModelConfig(**{**TINY_CAUSAL, "feature_norm": "mean"})
    with pytest.raises(SettingsError, match="causal"):
        ModelConfig(**{**TINY_CAUSAL, "gru_layers": 1, "bidirectional": True})


def test_running_normalisation_streams_too(rng):
    model = causal_model(rng, feature_norm="running")
    wave = rng.normal(scale=0.1, size=3 * CHUNK).astype(np.float32)
    *_, out = stepped(model, wave)
    want = offline(model, wave)
    for task in want:
        np.testing.assert_allclose(np.asarray(out[task])[0], want[task], atol=1e-5)
