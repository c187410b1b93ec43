"""SparseCrossentropy: equal to Keras's loss without smoothing, a NumPy reference with label
smoothing and with an additive margin (AM-softmax), config round trips."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasser.model.losses import ScaledCrossentropy, SparseCrossentropy


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
    loss = SparseCrossentropy(label_smoothing=0.15, margin=0.2, logit_scale=20.0, name="smoothed", reduction="sum")
    config = loss.get_config()
    assert (config["label_smoothing"], config["margin"], config["logit_scale"]) == (0.15, 0.2, 20.0)
    restored = SparseCrossentropy.from_config(config)
    assert restored.get_config() == config
    assert restored.label_smoothing == 0.15 and restored.name == "smoothed" and restored.reduction == "sum"
    scaled = ScaledCrossentropy(0.1, 0.3, 10.0)
    assert ScaledCrossentropy.from_config(scaled.get_config()).get_config() == scaled.get_config()
    assert scaled.margin == 0.3 and scaled.logit_scale == 10.0


def test_serialize_with_registered_name():
    loss = SparseCrossentropy(label_smoothing=0.1)
    serialized = keras.saving.serialize_keras_object(loss)
    assert serialized["registered_name"] == "kerasser>SparseCrossentropy"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is SparseCrossentropy
    assert restored.get_config() == loss.get_config()
    assert keras.losses.get(serialized).label_smoothing == 0.1


# --- additive margin (AM-softmax / CosFace) ----------------------------------------------------


def am_softmax_reference(labels, cosines, margin, scale, smoothing=0.0):
    """Per-sample ``-sum_c t_c log softmax(scale * (cos - margin * one_hot))_c`` in float64."""
    classes = cosines.shape[1]
    one_hot = np.eye(classes)[labels]
    z = scale * (cosines.astype(np.float64) - margin * one_hot)
    log_softmax = z - z.max(axis=1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(axis=1, keepdims=True))
    target = (1.0 - smoothing) * one_hot + smoothing / classes
    return -(target * log_softmax).sum(axis=1)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_margin_matches_the_am_softmax_formula(rng, smoothing):
    """From the cosine head's probabilities softmax(s * cos), the loss is CosFace's: the true
    class's cosine lowered by m before the softmax."""
    scale, margin = 30.0, 0.2
    cosines = rng.uniform(-1, 1, size=(8, 4))
    z = scale * cosines
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
    labels = rng.integers(0, 4, size=8)
    loss = SparseCrossentropy(label_smoothing=smoothing, margin=margin, logit_scale=scale, reduction=None)
    per_sample = np.asarray(loss(labels, p))
    np.testing.assert_allclose(per_sample, am_softmax_reference(labels, cosines, margin, scale, smoothing),
                               rtol=1e-4, atol=1e-4)
    # the margin costs something: above the plain loss on every sample
    assert np.all(per_sample > np.asarray(SparseCrossentropy(smoothing, reduction=None)(labels, p)))


def test_margin_with_distributions_weights_each_class_by_its_target_mass(rng):
    """A one-hot distribution gives the label's loss; a soft target takes the margin from each
    class in proportion to its mass."""
    scale, margin = 10.0, 0.3
    cosines = rng.uniform(-1, 1, size=(5, 3))
    p = np.exp(scale * cosines)
    p = (p / p.sum(axis=1, keepdims=True)).astype(np.float32)
    labels = rng.integers(0, 3, size=5)
    loss = SparseCrossentropy(margin=margin, logit_scale=scale, reduction=None)
    np.testing.assert_allclose(np.asarray(loss(np.eye(3, dtype=np.float32)[labels], p)),
                               np.asarray(loss(labels, p)), rtol=1e-6)
    soft = np.full((5, 3), 0.1, np.float32)
    soft[np.arange(5), labels] = 0.8
    z = scale * cosines - scale * margin * soft
    expected = -(soft * (z - np.log(np.exp(z).sum(axis=1, keepdims=True)))).sum(axis=1)
    np.testing.assert_allclose(np.asarray(loss(soft, p)), expected, rtol=1e-4)
