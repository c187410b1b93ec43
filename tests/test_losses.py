"""SparseCrossentropy: equal to Keras's loss without smoothing, a NumPy reference with label
smoothing, config round trips."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasser.losses import SparseCrossentropy


def random_probabilities(rng: np.random.Generator, batch: int, classes: int) -> np.ndarray:
    logits = rng.normal(scale=2.0, size=(batch, classes))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def reference(labels: np.ndarray, p: np.ndarray, smoothing: float) -> np.ndarray:
    """Per-sample ``-sum_c t_c log p_c`` with ``t = (1 - s) one_hot + s / classes``."""
    classes = p.shape[1]
    target = (1.0 - smoothing) * np.eye(classes)[labels] + smoothing / classes
    return -(target * np.log(p.astype(np.float64))).sum(axis=1)


@pytest.mark.parametrize("label_shape", ["flat", "column"])
def test_without_smoothing_equals_keras(rng, label_shape):
    p = random_probabilities(rng, 6, 4)
    labels = rng.integers(0, 4, size=6)
    y_true = labels if label_shape == "flat" else labels[:, None]
    for reduction in ("sum_over_batch_size", None):
        ours = np.asarray(SparseCrossentropy(reduction=reduction)(y_true, p))
        keras_loss = np.asarray(keras.losses.SparseCategoricalCrossentropy(reduction=reduction)(y_true, p))
        assert ours.shape == keras_loss.shape
        np.testing.assert_allclose(ours, keras_loss, rtol=1e-6, atol=1e-6)
    per_sample = np.asarray(SparseCrossentropy(reduction=None)(y_true, p))
    np.testing.assert_allclose(per_sample, reference(labels, p, 0.0), rtol=1e-5)


def test_with_smoothing_matches_numpy_reference(rng):
    p = random_probabilities(rng, 8, 5)
    labels = rng.integers(0, 5, size=8)
    loss = SparseCrossentropy(label_smoothing=0.1, reduction=None)
    per_sample = np.asarray(loss(labels, p))
    expected = reference(labels, p, 0.1)
    np.testing.assert_allclose(per_sample, expected, rtol=1e-5)
    # the smoothing really does something here
    assert not np.allclose(per_sample, reference(labels, p, 0.0), rtol=1e-3)
    mean = float(SparseCrossentropy(label_smoothing=0.1)(labels, p))
    np.testing.assert_allclose(mean, expected.mean(), rtol=1e-5)


def test_smoothed_loss_is_lowest_at_the_smoothed_target():
    """With smoothing s the best prediction is the smoothed target, not the one-hot vector."""
    classes, s = 4, 0.2
    labels = np.array([2])
    smoothed = np.full((1, classes), s / classes, np.float32)
    smoothed[0, 2] += 1.0 - s
    sharper = np.full((1, classes), 0.01, np.float32)
    sharper[0, 2] = 1.0 - 0.01 * (classes - 1)
    loss = SparseCrossentropy(label_smoothing=s)
    assert float(loss(labels, smoothed)) < float(loss(labels, sharper))


def test_sample_weight(rng):
    p = random_probabilities(rng, 4, 3)
    labels = rng.integers(0, 3, size=4)
    weights = np.array([1.0, 0.0, 2.0, 0.5], np.float32)
    loss = float(SparseCrossentropy(label_smoothing=0.1)(labels, p, sample_weight=weights))
    np.testing.assert_allclose(loss, (reference(labels, p, 0.1) * weights).sum() / 4, rtol=1e-5)


def test_config_round_trip():
    loss = SparseCrossentropy(label_smoothing=0.15, name="smoothed", reduction="sum")
    config = loss.get_config()
    assert config["label_smoothing"] == 0.15
    restored = SparseCrossentropy.from_config(config)
    assert restored.get_config() == config
    assert restored.label_smoothing == 0.15 and restored.name == "smoothed" and restored.reduction == "sum"


def test_serialize_with_registered_name():
    loss = SparseCrossentropy(label_smoothing=0.1)
    serialized = keras.saving.serialize_keras_object(loss)
    assert serialized["registered_name"] == "kerasser>SparseCrossentropy"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is SparseCrossentropy
    assert restored.get_config() == loss.get_config()
    assert keras.losses.get(serialized).label_smoothing == 0.1
