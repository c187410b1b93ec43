"""Knowledge distillation: target arithmetic against NumPy, the loss on distributions, teacher
averaging over real Keras models, and a tiny student trained from a tiny teacher on real EmoDB clips."""

from __future__ import annotations

import dataclasses
import json

import keras
import numpy as np
import pytest

from kerasser.config import ModelConfig, TrainConfig
from kerasser.data.corpora import Utterance
from kerasser.errors import SettingsError
from kerasser.model.losses import SparseCrossentropy
from kerasser.training.distillation import mix_targets, sharpen, soft_targets, teacher_probabilities


def test_sharpen_is_the_softmax_of_logits_over_temperature(rng):
    logits = rng.normal(size=(5, 3))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(sharpen(probs, 1.0), probs, rtol=1e-12)
    for temperature in (0.5, 2.0, 4.0):
        expected = np.exp(logits / temperature)
        expected /= expected.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(sharpen(probs, temperature), expected, rtol=1e-9)
    flat = sharpen(probs, 1e6)
    np.testing.assert_allclose(flat, np.full_like(flat, 1 / 3), atol=1e-5)


def test_mix_targets():
    teacher = np.array([0.2, 0.7, 0.1])
    target = mix_targets(2, teacher, 0.25)
    np.testing.assert_allclose(target, [0.05, 0.175, 0.775], rtol=1e-6)
    assert target.dtype == np.float32
    np.testing.assert_allclose(mix_targets(0, teacher, 1.0), teacher, rtol=1e-6)


def test_soft_targets_per_utterance():
    labelled = Utterance("a.wav", "s1", "train", {"arousal": 2, "emotion": 1})
    partly = Utterance("b.wav", "s2", "train", {"emotion": 0})
    unseen = Utterance("c.wav", "s2", "train", {"arousal": 0})  # the teachers could not load it
    teacher = {
        "a.wav": {"arousal": np.array([0.1, 0.1, 0.8]), "emotion": np.array([0.5, 0.5])},
        "b.wav": {"arousal": np.array([0.6, 0.3, 0.1]), "emotion": np.array([0.9, 0.1])},
    }
    targets = soft_targets([labelled, partly, unseen], ("arousal", "emotion"), teacher, 0.5)
    assert set(targets) == {"a.wav", "b.wav"}
    np.testing.assert_allclose(targets["a.wav"]["arousal"], [0.05, 0.05, 0.9], rtol=1e-6)
    np.testing.assert_allclose(targets["a.wav"]["emotion"], [0.25, 0.75], rtol=1e-6)
    np.testing.assert_allclose(targets["b.wav"]["arousal"], [0.6, 0.3, 0.1], rtol=1e-6)  # no label: the teacher's
    np.testing.assert_allclose(targets["b.wav"]["emotion"], [0.95, 0.05], rtol=1e-6)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_loss_on_distributions(rng, smoothing):
    logits = rng.normal(size=(6, 4))
    p = (np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)).astype(np.float32)
    labels = rng.integers(0, 4, size=6)
    loss = SparseCrossentropy(label_smoothing=smoothing, reduction=None)
    # a one-hot distribution is the label itself
    np.testing.assert_allclose(loss(np.eye(4, dtype=np.float32)[labels], p), loss(labels, p), rtol=1e-6)
    soft = rng.dirichlet(np.ones(4), size=6).astype(np.float32)
    target = (1 - smoothing) * soft + smoothing / 4
    expected = -(target * np.log(p.astype(np.float64))).sum(axis=1)
    np.testing.assert_allclose(loss(soft, p), expected, rtol=1e-5)


def constant_teacher(arousal, emotion=None):
    """A Keras model with the usual inputs whose outputs ignore the audio."""
    waveform = keras.Input((None,), name="waveform")
    length = keras.Input((), dtype="int32", name="length")
    outputs = {}
    for name, probs in (("arousal", arousal), ("emotion", emotion)):
        if probs is not None:
            outputs[name] = keras.layers.Lambda(
                lambda w, p=np.asarray(probs, np.float32): keras.ops.zeros_like(w[:, :1]) + p,  # noqa: B008 (binds this task's probs)
                name=name
            )(waveform)
    return keras.Model({"waveform": waveform, "length": length}, outputs)


def test_teacher_probabilities_average_the_teachers():
    utterances = [Utterance(f"{i}.wav", "s", "train", {"arousal": 0}) for i in range(5)]
    lengths = {f"{i}.wav": 100 + 37 * i for i in range(5)}

    def load(path):
        if path == "3.wav":
            raise ValueError("broken")
        return np.ones(lengths[path], np.float32)

    teachers = [constant_teacher([0.2, 0.3, 0.5]), constant_teacher([0.6, 0.3, 0.1])]
    probs = teacher_probabilities(teachers, utterances, ("arousal",), load, batch_size=2)
    assert set(probs) == {"0.wav", "1.wav", "2.wav", "4.wav"}
    for row in probs.values():
        np.testing.assert_allclose(row["arousal"], [0.4, 0.3, 0.3], rtol=1e-6)
    with pytest.raises(SettingsError, match="does not predict emotion"):
        teacher_probabilities(teachers, utterances, ("arousal", "emotion"), load)


def test_teachers_label_the_speakers_they_never_heard():
    utterances = [Utterance(f"{s}.wav", s, "train", {"arousal": 0}, corpus="c") for s in ("s1", "s2", "s3", "s4")]
    a, b = [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]
    teachers = [constant_teacher(a), constant_teacher(b)]
    heard = [{"c:s1", "c:s4"}, {"c:s2", "c:s4"}]
    probs = teacher_probabilities(teachers, utterances, ("arousal",), lambda path: np.ones(50, np.float32),
                                  heard=heard)
    np.testing.assert_allclose(probs["s1.wav"]["arousal"], b, rtol=1e-6)  # only b never heard s1
    np.testing.assert_allclose(probs["s2.wav"]["arousal"], a, rtol=1e-6)
    np.testing.assert_allclose(probs["s3.wav"]["arousal"], [0.4, 0.3, 0.3], rtol=1e-6)  # neither heard s3
    np.testing.assert_allclose(probs["s4.wav"]["arousal"], [0.4, 0.3, 0.3], rtol=1e-6)  # both did: all of them


def test_config_checks_and_round_trip(tmp_path):
    from kerasser.config import load_train_config, save_json

    with pytest.raises(SettingsError, match="distill_weight"):
        TrainConfig(corpora=(), out="x", distill_weight=0.0)
    with pytest.raises(SettingsError, match="distill_temperature"):
        TrainConfig(corpora=(), out="x", distill_temperature=0.0)
    config = TrainConfig(corpora=(), out="x", distill_from=["runs/a", "runs/b"], distill_weight=0.3)
    assert config.distill_from == ("runs/a", "runs/b")
    save_json(config, tmp_path / "config.json")
    assert load_train_config(tmp_path / "config.json") == config


from tiny import TINY  # noqa: E402


@pytest.mark.slow
def test_student_trains_from_a_teacher_run(emodb_small, tmp_path):
    from kerasser.evaluate.crossval import crossval
    from kerasser.training.loop import train

    def config(out, **extra):
        return TrainConfig(corpora=(("manifest", str(emodb_small)),), out=str(tmp_path / out),
                           model=ModelConfig(tasks=("arousal", "emotion"), **TINY), epochs=1, batch_size=8,
                           learning_rate=1e-3, **extra)

    train(config("teacher"), write=lambda line: None)
    lines = []
    result = train(config("student", distill_from=(str(tmp_path / "teacher"),), distill_weight=0.5,
                          distill_temperature=2.0), write=lines.append)
    assert result.epochs_done == 1
    said = [line for line in lines if line.startswith("distillation:")]
    assert len(said) == 1 and "1 teacher(s)" in said[0] and "temperature 2" in said[0]
    saved = json.loads((tmp_path / "student" / "config.json").read_text())
    assert saved["distill_from"] == [str(tmp_path / "teacher")]
    other_tasks = dataclasses.replace(config("student2", distill_from=(str(tmp_path / "teacher"),)),
                                      model=ModelConfig(tasks=("arousal", "valence"), **TINY))
    with pytest.raises(SettingsError, match="does not predict valence"):
        train(other_tasks, write=lambda line: None)
    assert not (tmp_path / "student2").exists()  # refused before the run folder is made
    with pytest.raises(SettingsError, match="cross-validation cannot distil"):
        crossval(config("cv", distill_from=(str(tmp_path / "teacher"),)), folds=3, dev_speakers=1)
