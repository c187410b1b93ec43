"""Dimension tasks read off the emotion head (``ModelConfig.derived_tasks``, ``--from-emotion``)."""

from __future__ import annotations

import numpy as np
import pytest

from kerasser.config import AudioConfig, ModelConfig, TrainConfig
from kerasser.errors import SettingsError
from kerasser.tasks import emotion_groups

TASKS = ("emotion", "arousal", "valence", "dominance")
SMALL = dict(frontend="logmel", audio=AudioConfig(400, 160), block_channels=(16,), block_dilations=(1,),
             gru_units=8, gru_layers=1, bidirectional=True, recurrent_stride=2, pool_heads=2, pool_statistics=True)


def test_the_derived_output_is_the_emotion_summed_per_level_and_has_no_head(rng):
    from kerasser.model.network import build_model, with_attention_outputs

    model = build_model(ModelConfig(tasks=TASKS, derived_tasks=("dominance",), **SMALL))
    names = {layer.name for layer in model.layers}
    assert "dominance_pooling" not in names and "valence_pooling" in names
    assert list(model.output) == list(TASKS)  # the tasks' order, derived or not
    wave = rng.normal(size=(2, 9000)).astype(np.float32)
    out = with_attention_outputs(model)({"waveform": wave, "length": np.array([9000, 5000], np.int32)})
    membership = np.eye(3)[list(emotion_groups("dominance"))]
    np.testing.assert_allclose(np.asarray(out["dominance"]), np.asarray(out["emotion"]) @ membership, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(out["dominance_attention"]), np.asarray(out["emotion_attention"]))
    # fewer weights than the model with a dominance head of its own
    full = build_model(ModelConfig(tasks=TASKS, **SMALL))
    assert model.count_params() < full.count_params()


def test_training_goes_through_the_emotion_head():
    """The derived task's loss reaches the emotion head's weights (its only path to the encoder)."""
    import tensorflow as tf

    from kerasser.model.losses import SparseCrossentropy
    from kerasser.model.network import build_model

    model = build_model(ModelConfig(tasks=("emotion", "dominance"), derived_tasks=("dominance",), **SMALL))
    wave = np.random.default_rng(0).normal(size=(2, 6000)).astype(np.float32)
    with tf.GradientTape() as tape:
        out = model({"waveform": wave, "length": np.array([6000, 6000], np.int32)}, training=True)
        loss = SparseCrossentropy()(np.array([0, 2]), out["dominance"])
    head = model.get_layer("emotion").kernel
    gradient = tape.gradient(loss, head)
    assert gradient is not None and float(tf.reduce_max(tf.abs(gradient))) > 0


@pytest.mark.parametrize("settings, message", [
    (dict(tasks=("arousal", "dominance"), derived_tasks=("dominance",)), "add the emotion task"),
    (dict(tasks=("emotion", "arousal"), derived_tasks=("dominance",)), "dimension tasks"),
    (dict(tasks=("emotion", "arousal"), derived_tasks=("emotion",)), "dimension tasks"),
])
def test_bad_derived_tasks_are_refused(settings, message):
    with pytest.raises(SettingsError, match=message):
        ModelConfig(**settings)


def test_a_margin_is_refused_with_derived_tasks():
    model = ModelConfig(tasks=("emotion", "dominance"), derived_tasks=("dominance",), head="cosine")
    with pytest.raises(SettingsError, match="derived_tasks"):
        TrainConfig(corpora=(), out="x", model=model, margin=0.2)


def test_cli_option_round_trips():
    from test_uncertainty_weights import config_from_arguments

    from kerasser.training.options import train_arguments

    args = ["--corpus", "emodb", "--data", "data/emodb", "--tasks", "a,v,d,e", "--out", "runs/m"]
    default = config_from_arguments(args)  # the default recipe on EmoDB with e and d: dominance read out
    assert default.model.derived_tasks == () and default.model.readout_tasks == ("dominance",)
    assert default.select_on == "trained" and config_from_arguments(train_arguments(default)) == default
    off = config_from_arguments([*args, "--readout-from-emotion", "none"])
    assert off.model.readout_tasks == () and off.select_on == "saved"
    assert config_from_arguments(train_arguments(off)) == off
    config = config_from_arguments([*args, "--from-emotion", "d"])
    assert config.model.derived_tasks == ("dominance",)
    assert "--from-emotion d" in " ".join(train_arguments(config))
    assert config_from_arguments(train_arguments(config)) == config
    assert config_from_arguments([*args, "--from-emotion", "none"]).model.derived_tasks == ()
    readout = config_from_arguments([*args, "--readout-from-emotion", "d"])
    assert readout.model.readout_tasks == ("dominance",) and readout.model.derived_tasks == ()
    assert config_from_arguments(train_arguments(readout)) == readout
    on_heads = config_from_arguments([*args, "--readout-from-emotion", "d", "--select-on", "trained"])
    assert on_heads.select_on == "trained" and config_from_arguments(train_arguments(on_heads)) == on_heads


def test_readout_keeps_the_head_for_training_and_serves_the_emotion_summed(rng):
    """``readout_tasks``: the trained model has the task's own head (its loss); the model as
    saved (``read_from_emotion``) reads the task off the emotion head and leaves the head out."""
    from kerasser.model.network import build_model, read_from_emotion, with_attention_outputs

    config = ModelConfig(tasks=TASKS, readout_tasks=("dominance",), **SMALL)
    trained = build_model(config)
    assert "dominance_pooling" in {layer.name for layer in trained.layers}
    served = read_from_emotion(trained, config.readout_tasks)
    assert "dominance_pooling" not in {layer.name for layer in served.layers}
    assert list(served.output) == list(TASKS)
    wave = rng.normal(size=(2, 9000)).astype(np.float32)
    inputs = {"waveform": wave, "length": np.array([9000, 5000], np.int32)}
    out, own = with_attention_outputs(served)(inputs), trained(inputs)
    membership = np.eye(3)[list(emotion_groups("dominance"))]
    np.testing.assert_allclose(np.asarray(out["dominance"]), np.asarray(own["emotion"]) @ membership, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(out["valence"]), np.asarray(own["valence"]), rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(out["dominance_attention"]), np.asarray(out["emotion_attention"]))
    assert read_from_emotion(trained, ()) is trained


def test_derived_and_readout_exclude_each_other():
    with pytest.raises(SettingsError, match="either derived"):
        ModelConfig(tasks=TASKS, derived_tasks=("dominance",), readout_tasks=("dominance",))
    with pytest.raises(SettingsError, match="readout task 'emotion'"):
        ModelConfig(tasks=TASKS, readout_tasks=("emotion",))
    with pytest.raises(SettingsError, match="select_on"):
        TrainConfig(corpora=(), out="x", select_on="test")
