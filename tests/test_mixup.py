"""Mixup of training batches (kerasser.data.mixup): known answers, the exactness of the mixed loss,
seeded draws, the training pipeline and the settings."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from fakes import sine  # tests/fakes.py

from kerasser.config import AugmentConfig, ModelConfig, TrainConfig
from kerasser.data import dataset as data
from kerasser.data.mixup import mix_batch, mix_weights, mixed, partners
from kerasser.errors import SettingsError
from kerasser.model.losses import SparseCrossentropy

RATE = 8000


def batch(n=4, length=12):
    rng = np.random.default_rng(0)
    inputs = {"waveform": tf.constant(rng.normal(size=(n, length)), tf.float32),
              "length": tf.constant([length, length - 4, length - 2, length - 6][:n], tf.int32)}
    labels = {"emotion": tf.constant([0, 1, 2, 3][:n]), "arousal": tf.constant([0, 1, 2, 0][:n])}
    weights = {"emotion": tf.constant([1.0, 2.0, 1.0, 0.0][:n]), "arousal": tf.ones(n)}
    return inputs, labels, weights


def test_known_answer():
    inputs, labels, weights = batch()
    lam, order = tf.constant([0.7, 0.6, 1.0, 0.5]), tf.constant([1, 0, 3, 2])
    x, y, w = mix_batch(inputs, labels, weights, lam, order)
    wave = inputs["waveform"].numpy()
    np.testing.assert_allclose(x["waveform"][0], 0.7 * wave[0] + 0.3 * wave[1], rtol=1e-6)
    np.testing.assert_allclose(x["waveform"][2], wave[2])  # lam 1: unchanged
    np.testing.assert_array_equal(x["length"], [12, 12, 10, 10])  # the longer of the two
    # emotion: 0.7 * 1 of class 0 and 0.3 * 2 of class 1 -> weight 1.3, target (0.7, 0.6) / 1.3
    np.testing.assert_allclose(w["emotion"], [1.3, 1.6, 1.0, 0.5], rtol=1e-6)
    np.testing.assert_allclose(y["emotion"][0, :2], [0.7 / 1.3, 0.6 / 1.3], rtol=1e-6)
    np.testing.assert_allclose(y["emotion"][3], np.eye(7)[2])  # no label of its own: the partner's
    np.testing.assert_allclose(y["arousal"][1], [0.4, 0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(np.sum(y["emotion"], axis=-1), 1.0, rtol=1e-6)


def test_weighted_loss_equals_the_mixup_loss_numpy_reference():
    """weight * CE(p, mixed target) == lam w_i CE(p, y_i) + (1 - lam) w_j CE(p, y_j)."""
    inputs, labels, weights = batch()
    lam, order = tf.constant([0.9, 0.55, 0.75, 0.6]), tf.constant([2, 3, 0, 1])
    _, y, w = mix_batch(inputs, labels, weights, lam, order)
    p = np.random.default_rng(1).dirichlet(np.ones(7), size=4).astype(np.float32)
    loss = SparseCrossentropy()
    got = w["emotion"].numpy() * loss.call(y["emotion"], tf.constant(p)).numpy()
    ce = -np.log(p)
    lab, wt, lm, o = labels["emotion"].numpy(), weights["emotion"].numpy(), lam.numpy(), order.numpy()
    want = [lm[i] * wt[i] * ce[i, lab[i]] + (1 - lm[i]) * wt[o[i]] * ce[i, lab[o[i]]] for i in range(4)]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_soft_labels_are_mixed_as_distributions():
    inputs, _, weights = batch(2)
    soft = {"arousal": tf.constant([[0.2, 0.8, 0.0], [0.0, 0.0, 1.0]])}
    _, y, w = mix_batch(inputs, soft, {"arousal": weights["arousal"]}, tf.constant([0.5, 0.5]), tf.constant([1, 0]))
    np.testing.assert_allclose(y["arousal"], [[0.1, 0.4, 0.5]] * 2, rtol=1e-6)
    np.testing.assert_allclose(w["arousal"], [1.0, 1.0])


def test_other_targets_stay_the_larger_parts():
    """A speaker adversary's target and a transcript are not mixed: example i's, with its weight."""
    inputs, labels, weights = batch(2)
    labels = {"arousal": labels["arousal"], "speaker": tf.constant([4, 7]), "transcript": tf.constant([[3, 5, 0], [2, 0, 0]])}
    weights = {"arousal": weights["arousal"], "speaker": tf.constant([1.0, 0.5]), "transcript": tf.constant([0.1, 0.2])}
    _, y, w = mix_batch(inputs, labels, weights, tf.constant([0.6, 0.8]), tf.constant([1, 0]))
    for target in ("speaker", "transcript"):
        np.testing.assert_array_equal(y[target], labels[target])
        np.testing.assert_array_equal(w[target], weights[target])
    np.testing.assert_allclose(y["arousal"], [[0.6, 0.4, 0.0], [0.2, 0.8, 0.0]], rtol=1e-6)


def test_draws_are_folded_seeded_and_spread_with_alpha():
    seed = tf.constant([3, 4], tf.int64)
    lam = mix_weights(0.4, tf.constant(2000), seed).numpy()
    assert lam.min() >= 0.5 and lam.max() <= 1.0
    np.testing.assert_array_equal(lam, mix_weights(0.4, tf.constant(2000), seed).numpy())
    assert not np.array_equal(lam, mix_weights(0.4, tf.constant(2000), seed + 1).numpy())
    wide = mix_weights(50.0, tf.constant(2000), seed).numpy()
    assert np.mean(lam) > 0.8 and np.mean(wide) < 0.6  # small alpha: mostly one utterance
    order = partners(tf.constant(9), seed).numpy()
    assert sorted(order) == list(range(9))


def examples(n=8, seconds=0.25):
    waves = [sine(seconds, RATE, freq=200.0 + 50 * i) for i in range(n)]

    def generate():
        for i, w in enumerate(waves):
            yield {"waveform": w, "length": np.int32(len(w))}, {"arousal": np.int32(i % 3)}, {"arousal": np.float32(1)}

    return tf.data.Dataset.from_generator(generate, output_signature=data.element_spec(["arousal"])).cache()


def test_mixed_dataset_repeats_for_its_seed():
    batches = examples().batch(4)
    first = [y["arousal"].numpy() for _, y, _ in mixed(batches, 0.4, 7)]
    again = [y["arousal"].numpy() for _, y, _ in mixed(batches, 0.4, 7)]
    other = [y["arousal"].numpy() for _, y, _ in mixed(batches, 0.4, 8)]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other))


def test_training_pipeline_mixes_only_when_asked():
    epoch = tf.Variable(0, dtype=tf.int64)
    plain = data.batched(examples(), 4, training=True, seed=1, sample_rate=RATE, epoch=epoch)
    config = AugmentConfig(mixup_alpha=0.4)
    mixing = data.batched(examples(), 4, training=True, seed=1, augment_config=config, sample_rate=RATE, epoch=epoch)
    assert [y["arousal"].shape.rank for _, y, _ in plain] == [1, 1]
    targets = [y["arousal"].numpy() for _, y, _ in mixing]
    assert [t.shape for t in targets] == [(4, 3), (4, 3)]
    np.testing.assert_allclose(np.concatenate(targets).sum(axis=1), 1.0, rtol=1e-6)
    assert np.any(np.concatenate(targets).max(axis=1) < 1.0)  # some utterance was mixed


def test_settings():
    assert not AugmentConfig(mixup_alpha=0.4).active  # not a per-example step
    with pytest.raises(SettingsError, match="mixup_alpha"):
        AugmentConfig(mixup_alpha=-1.0)
    config = TrainConfig(corpora=(), out="x", model=ModelConfig(ctc_weight=0.3, speaker_adversarial=0.1),
                         augment=AugmentConfig(mixup_alpha=0.2))
    assert config.augment.mixup_alpha == 0.2  # their targets stay the larger part's


def test_cli_option_round_trips():
    from test_uncertainty_weights import config_from_arguments

    from kerasser.training.options import train_arguments

    args = ["--corpus", "emodb", "--data", "data/emodb", "--tasks", "a,e", "--out", "runs/m"]
    assert config_from_arguments(args).augment.mixup_alpha == 0.4  # the default recipe's
    for alpha in ("0.2", "0"):  # another weight, and off
        config = config_from_arguments([*args, "--mixup", alpha])
        assert config.augment.mixup_alpha == float(alpha)
        assert f"--mixup {alpha}" in " ".join(train_arguments(config))
        assert config_from_arguments(train_arguments(config)) == config
