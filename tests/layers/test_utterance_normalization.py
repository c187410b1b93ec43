"""UtteranceNormalization: the shared layer checks, a NumPy reference with masks, padding
invariance, all-masked rows, the Keras mask, argument checks."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from harness import CHECKS, dtype_policy, run_layer_test
from layer_helpers import junk_padded, prefix_mask, random_masks

from kerasser.model.layers import UtteranceNormalization


def reference(x: np.ndarray, mask: np.ndarray, mode: str, epsilon: float, gate_db: float = 0.0) -> np.ndarray:
    """Per row and feature: minus the mean over the valid frames (and, for "meanvar", over the
    population standard deviation, with ``epsilon`` added to the variance; for "level", minus one
    mean over the valid frames and all features); padded frames 0. With ``gate_db``, the statistics
    over the valid frames whose log summed energy is within gate_db dB of the row's loudest."""
    out = np.zeros(x.shape, np.float64)
    for b in range(x.shape[0]):
        valid = x[b, mask[b]].astype(np.float64)
        if len(valid) == 0:
            continue
        stats = valid
        if gate_db:
            energy = np.log(np.exp(valid).sum(axis=1))
            stats = valid[energy >= energy.max() - gate_db * np.log(10.0) / 10.0]
        centred = valid - (stats.mean() if mode == "level" else stats.mean(axis=0))
        if mode == "meanvar":
            centred = centred / np.sqrt(stats.var(axis=0) + epsilon)
        out[b, mask[b]] = centred
    return out


def random_features(rng: np.random.Generator, shape) -> np.ndarray:
    """Features with a per-feature offset and scale, like log mel energies."""
    offset = rng.normal(scale=5.0, size=shape[-1])
    scale = rng.uniform(0.5, 3.0, size=shape[-1])
    return (offset + scale * rng.normal(size=shape)).astype(np.float32)


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("mode,gate_db", [("mean", 0.0), ("meanvar", 0.0), ("level", 0.0), ("mean", 20.0)])
def test_layer_checks(rng, check, mode, gate_db):
    x = random_features(rng, (3, 9, 4))
    run_layer_test(
        check, UtteranceNormalization, dict(mode=mode, epsilon=1e-2, gate_db=gate_db, name="norm"), x,
        mask=random_masks(rng, 9), skip={"gradient": "no weights"},
    )


@pytest.mark.parametrize("gate_db", [10.0, 30.0])
@pytest.mark.parametrize("mode", ["mean", "meanvar", "level"])
def test_gated_statistics_match_numpy_reference(rng, mode, gate_db):
    x = random_features(rng, (3, 9, 4))
    x[:, ::3] -= 8.0  # quiet frames, about 35 dB down
    mask = random_masks(rng, 9)
    out = np.asarray(UtteranceNormalization(mode=mode, gate_db=gate_db)(x, mask=mask))
    np.testing.assert_allclose(out, reference(x, mask, mode, 1e-3, gate_db), atol=1e-4)
    assert np.all(out[~mask] == 0.0)


@pytest.mark.parametrize("mode", ["mean", "meanvar", "level"])
def test_gate_makes_the_speech_frames_independent_of_surrounding_silence(rng, mode):
    """Silence (50 dB below the speech) added around an utterance moves its speech frames' output
    without the gate and leaves it unchanged with it; the silent frames are normalised too."""
    speech = random_features(rng, (1, 8, 4)) + 5.0
    silence = np.full((1, 6, 4), float(speech.min()) - 50 * np.log(10) / 10, np.float32)
    padded = np.concatenate([silence[:, :3], speech, silence[:, 3:]], axis=1)
    for gate_db, same in ((30.0, True), (0.0, False)):
        layer = UtteranceNormalization(mode=mode, gate_db=gate_db)
        alone, around = np.asarray(layer(speech)), np.asarray(layer(padded))
        assert np.allclose(around[:, 3:11], alone, atol=1e-4) == same
        assert np.all(np.isfinite(around)) and np.all(around[:, :3] != 0.0)


def test_silent_rows_and_bad_gates(rng):
    """A row of equal frames (digital silence) all pass the gate (no division by zero); a negative
    or NaN gate is refused."""
    out = np.asarray(UtteranceNormalization(mode="meanvar", gate_db=30.0)(np.full((1, 5, 3), -13.8, np.float32)))
    np.testing.assert_allclose(out, 0.0, atol=1e-6)
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="gate_db"):
            UtteranceNormalization(gate_db=bad)


@pytest.mark.parametrize("mode", ["mean", "meanvar", "level"])
def test_matches_numpy_reference_with_mask(rng, mode):
    x = random_features(rng, (3, 9, 4))
    mask = random_masks(rng, 9)
    layer = UtteranceNormalization(mode=mode, epsilon=1e-3)
    out = np.asarray(layer(x, mask=mask))
    np.testing.assert_allclose(out, reference(x, mask, mode, 1e-3), atol=1e-5)
    assert np.all(out[~mask] == 0.0)  # padded frames exactly 0
    if mode == "level":  # one offset per utterance: the spectral shape is kept, the overall mean is 0
        np.testing.assert_allclose(out[0, mask[0]].mean(), 0.0, atol=1e-5)
        np.testing.assert_allclose(np.diff(out[0, mask[0]] - x[0, mask[0]], axis=-1), 0.0, atol=1e-5)
    else:
        np.testing.assert_allclose(out[0, mask[0]].mean(axis=0), 0.0, atol=1e-5)  # zero mean over valid
    if mode == "meanvar":
        var = out[0, mask[0]].var(axis=0)
        raw_var = x[0, mask[0]].astype(np.float64).var(axis=0)
        np.testing.assert_allclose(var, raw_var / (raw_var + 1e-3), atol=1e-5)  # ~unit variance
    if mode != "level":
        np.testing.assert_allclose(out[2], 0.0, atol=1e-6)  # a single valid frame is its own mean


@pytest.mark.parametrize("mode", ["mean", "meanvar", "level"])
def test_without_mask_uses_every_frame(rng, mode):
    x = random_features(rng, (2, 6, 3))
    out = np.asarray(UtteranceNormalization(mode=mode)(x))
    np.testing.assert_allclose(out, reference(x, np.ones((2, 6), bool), mode, 1e-3), atol=1e-5)


@pytest.mark.parametrize("gate_db", [0.0, 20.0])
@pytest.mark.parametrize("mode", ["mean", "meanvar", "level"])
def test_padding_invariance(rng, mode, gate_db):
    """Garbage frames appended (and put into the masked frames) change no valid frame."""
    x = random_features(rng, (3, 7, 4))
    mask = random_masks(rng, 7)
    x_long, mask_long = junk_padded(rng, x, mask, extra=5)
    layer = UtteranceNormalization(mode=mode, gate_db=gate_db)
    out = np.asarray(layer(x, mask=mask))
    out_long = np.asarray(layer(x_long, mask=mask_long))
    np.testing.assert_allclose(out_long[:, :7], out, atol=1e-5)
    assert np.all(out_long[~mask_long] == 0.0)


@pytest.mark.parametrize("mode", ["mean", "meanvar", "level"])
def test_all_masked_row_gives_zeros(rng, mode):
    x = random_features(rng, (2, 5, 3))
    mask = prefix_mask([3, 0], 5)
    out = np.asarray(UtteranceNormalization(mode=mode)(x, mask=mask))
    assert np.all(np.isfinite(out))
    assert np.all(out[1] == 0.0)
    np.testing.assert_allclose(out[0], reference(x, mask, mode, 1e-3)[0], atol=1e-5)


def test_keras_mask_is_used_and_passed_on(rng):
    x = random_features(rng, (2, 6, 3))
    mask = prefix_mask([4, 2], 6)
    x[~mask] = 0.0  # what Masking(0) turns into mask=False
    inputs = keras.Input((None, 3))
    masked = keras.layers.Masking(0.0)(inputs)
    normalised = UtteranceNormalization(mode="meanvar")(masked)
    assert normalised._keras_mask is not None  # the mask goes on
    model = keras.Model(inputs, normalised)
    np.testing.assert_allclose(np.asarray(model(x)), reference(x, mask, "meanvar", 1e-3), atol=1e-5)
    layer = UtteranceNormalization()
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(x, mask)), mask)


def test_level_removes_a_gain_and_keeps_the_spectral_tilt(rng):
    """On log energies a gain adds one constant and a spectral tilt a per-feature offset: "level"
    removes the first and keeps the second (centred); "mean" removes both."""
    x = random_features(rng, (2, 8, 5))
    mask = prefix_mask([8, 5], 8)
    tilt = np.linspace(-2.0, 2.0, 5).astype(np.float32)
    level, mean = UtteranceNormalization(mode="level"), UtteranceNormalization(mode="mean")
    out = np.asarray(level(x, mask=mask))
    np.testing.assert_allclose(np.asarray(level(x + 3.7, mask=mask)), out, atol=1e-5)
    shifted = np.asarray(level(x + tilt, mask=mask))
    np.testing.assert_allclose(shifted[mask] - out[mask], np.broadcast_to(tilt, (mask.sum(), 5)), atol=1e-5)
    np.testing.assert_allclose(np.asarray(mean(x + tilt, mask=mask)), np.asarray(mean(x, mask=mask)), atol=1e-5)


def test_bad_mode_is_rejected():
    with pytest.raises(ValueError, match="mode"):
        UtteranceNormalization(mode="variance")


def test_long_utterance_under_mixed_float16(rng):
    """6,000 frames of log-mel-like features: float16 sums would overflow; the float32
    statistics give the float32 result, in float16."""
    x = random_features(rng, (1, 6000, 4)) - 13.0
    mask = np.ones((1, 6000), bool)
    with dtype_policy("mixed_float16"):
        out = UtteranceNormalization(mode="meanvar")(x, mask=mask)
    assert out.dtype == "float16"
    np.testing.assert_allclose(np.asarray(out, np.float64), reference(x, mask, "meanvar", 1e-3), atol=2e-2)
