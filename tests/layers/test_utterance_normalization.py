"""UtteranceNormalization: config round trips, a NumPy reference with masks, padding invariance,
all-masked rows, the Keras mask, argument checks."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasser.layers import UtteranceNormalization


def reference(x: np.ndarray, mask: np.ndarray, mode: str, epsilon: float) -> np.ndarray:
    """Per row and feature: minus the mean over the valid frames (and, for "meanvar", over the
    population standard deviation, with ``epsilon`` added to the variance); padded frames 0."""
    out = np.zeros(x.shape, np.float64)
    for b in range(x.shape[0]):
        valid = x[b, mask[b]].astype(np.float64)
        if len(valid) == 0:
            continue
        centred = valid - valid.mean(axis=0)
        if mode == "meanvar":
            centred = centred / np.sqrt(valid.var(axis=0) + epsilon)
        out[b, mask[b]] = centred
    return out


def random_masks(rng: np.random.Generator, time: int) -> np.ndarray:
    """Three rows: a random prefix, a non-prefix pattern, a single valid frame."""
    prefix = np.arange(time) < rng.integers(2, time)
    non_prefix = np.isin(np.arange(time), [1, 2, time - 2])
    single = np.arange(time) == rng.integers(0, time)
    return np.stack([prefix, non_prefix, single])


def random_features(rng: np.random.Generator, shape) -> np.ndarray:
    """Features with a per-feature offset and scale, like log mel energies."""
    offset = rng.normal(scale=5.0, size=shape[-1])
    scale = rng.uniform(0.5, 3.0, size=shape[-1])
    return (offset + scale * rng.normal(size=shape)).astype(np.float32)


def test_config_round_trip():
    layer = UtteranceNormalization(mode="meanvar", epsilon=1e-5, name="norm")
    config = layer.get_config()
    restored = UtteranceNormalization.from_config(config)
    assert restored.get_config() == config
    assert restored.mode == "meanvar" and restored.epsilon == 1e-5 and restored.name == "norm"


def test_serialize_with_registered_name():
    layer = UtteranceNormalization(mode="meanvar", name="norm")
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == "kerasser>UtteranceNormalization"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is UtteranceNormalization
    assert restored.get_config() == layer.get_config()


@pytest.mark.parametrize("mode", ["mean", "meanvar"])
def test_matches_numpy_reference_with_mask(rng, mode):
    x = random_features(rng, (3, 9, 4))
    mask = random_masks(rng, 9)
    layer = UtteranceNormalization(mode=mode, epsilon=1e-3)
    out = np.asarray(layer(x, mask=mask))
    np.testing.assert_allclose(out, reference(x, mask, mode, 1e-3), atol=1e-5)
    assert np.all(out[~mask] == 0.0)  # padded frames exactly 0
    np.testing.assert_allclose(out[0, mask[0]].mean(axis=0), 0.0, atol=1e-5)  # zero mean over valid
    if mode == "meanvar":
        var = out[0, mask[0]].var(axis=0)
        raw_var = x[0, mask[0]].astype(np.float64).var(axis=0)
        np.testing.assert_allclose(var, raw_var / (raw_var + 1e-3), atol=1e-5)  # ~unit variance
    np.testing.assert_allclose(out[2], 0.0, atol=1e-6)  # a single valid frame is its own mean


@pytest.mark.parametrize("mode", ["mean", "meanvar"])
def test_without_mask_uses_every_frame(rng, mode):
    x = random_features(rng, (2, 6, 3))
    out = np.asarray(UtteranceNormalization(mode=mode)(x))
    np.testing.assert_allclose(out, reference(x, np.ones((2, 6), bool), mode, 1e-3), atol=1e-5)


@pytest.mark.parametrize("mode", ["mean", "meanvar"])
def test_padding_invariance(rng, mode):
    """Garbage frames appended (and put into the masked frames) change no valid frame."""
    x = random_features(rng, (3, 7, 4))
    mask = random_masks(rng, 7)
    extra = 5
    junk = rng.normal(scale=100.0, size=(3, extra, 4)).astype(np.float32)
    x_long = np.concatenate([x, junk], axis=1)
    x_long[:, :7][~mask] = rng.normal(scale=100.0, size=(int((~mask).sum()), 4))
    mask_long = np.concatenate([mask, np.zeros((3, extra), bool)], axis=1)
    layer = UtteranceNormalization(mode=mode)
    out = np.asarray(layer(x, mask=mask))
    out_long = np.asarray(layer(x_long, mask=mask_long))
    np.testing.assert_allclose(out_long[:, :7], out, atol=1e-5)
    assert np.all(out_long[~mask_long] == 0.0)


@pytest.mark.parametrize("mode", ["mean", "meanvar"])
def test_all_masked_row_gives_zeros(rng, mode):
    x = random_features(rng, (2, 5, 3))
    mask = np.array([[True, True, True, False, False], [False] * 5])
    out = np.asarray(UtteranceNormalization(mode=mode)(x, mask=mask))
    assert np.all(np.isfinite(out))
    assert np.all(out[1] == 0.0)
    np.testing.assert_allclose(out[0], reference(x, mask, mode, 1e-3)[0], atol=1e-5)


def test_keras_mask_is_used_and_passed_on(rng):
    x = random_features(rng, (2, 6, 3))
    mask = np.arange(6)[None] < np.array([[4], [2]])
    x[~mask] = 0.0  # what Masking(0) turns into mask=False
    inputs = keras.Input((None, 3))
    masked = keras.layers.Masking(0.0)(inputs)
    normalised = UtteranceNormalization(mode="meanvar")(masked)
    assert normalised._keras_mask is not None  # the mask goes on
    model = keras.Model(inputs, normalised)
    np.testing.assert_allclose(np.asarray(model(x)), reference(x, mask, "meanvar", 1e-3), atol=1e-5)
    layer = UtteranceNormalization()
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(x, mask)), mask)


def test_bad_mode_is_rejected():
    with pytest.raises(ValueError, match="mode"):
        UtteranceNormalization(mode="variance")
