"""PCEN: the shared layer checks, a NumPy reference (the moving average as a recurrence) with
masks, padding invariance, all-masked rows, gain normalisation, float32 inside mixed precision,
traced == eager, argument checks."""

from __future__ import annotations

import numpy as np
import pytest
from harness import CHECKS, dtype_policy, run_layer_test
from layer_helpers import junk_padded, prefix_mask, random_masks

from kerasser.model.layers import PCEN


def reference(x, mask, smooth, context, alpha, delta, root, epsilon=1e-6) -> np.ndarray:
    """Per row and channel, in float64: the moving average over the valid frames in the last
    ``context`` frames (weights smooth * (1 - smooth) ** age, divided by their sum), then PCEN;
    padded frames 0. ``alpha``, ``delta``, ``root``: scalars or one value per channel."""
    out = np.zeros(x.shape, np.float64)
    energy = np.exp(x.astype(np.float64))
    for b in range(x.shape[0]):
        for t in range(x.shape[1]):
            if not mask[b, t]:
                continue
            ages = [k for k in range(min(context, t + 1)) if mask[b, t - k]]
            w = np.array([smooth * (1 - smooth) ** k for k in ages])
            average = (w[:, None] * energy[b, [t - k for k in ages]]).sum(0) / w.sum()
            gained = energy[b, t] / (average + epsilon) ** alpha
            out[b, t] = (gained + delta) ** root - np.power(delta, root)
    return out


def recurrence(x: np.ndarray, smooth: float) -> np.ndarray:
    """The textbook PCEN smoother of one unmasked row [time, channels]: M[0] = E[0],
    M[t] = (1 - smooth) M[t - 1] + smooth E[t]."""
    energy = np.exp(x.astype(np.float64))
    m = np.empty_like(energy)
    m[0] = energy[0]
    for t in range(1, len(energy)):
        m[t] = (1 - smooth) * m[t - 1] + smooth * energy[t]
    return m


def log_mel_like(rng: np.random.Generator, shape) -> np.ndarray:
    """Log energies with a per-channel level, like log mel features."""
    return (rng.normal(scale=2.0, size=shape[-1]) + rng.normal(size=shape)).astype(np.float32)


SMALL = dict(smooth=0.2, context_frames=6)


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    run_layer_test(check, PCEN, dict(SMALL, alpha=0.9, delta=1.5, root=0.4, epsilon=1e-5, name="pcen"),
                   log_mel_like(rng, (3, 9, 4)), mask=random_masks(rng, 9))


def test_matches_numpy_reference_with_mask(rng):
    x = log_mel_like(rng, (3, 9, 4))
    mask = random_masks(rng, 9)
    out = np.asarray(PCEN(**SMALL)(x, mask=mask))
    np.testing.assert_allclose(out, reference(x, mask, 0.2, 6, 0.98, 2.0, 0.5), rtol=1e-4, atol=1e-5)
    assert np.all(out[~mask] == 0.0)  # padded frames exactly 0


def test_trained_parameters_per_channel(rng):
    """Per-channel alpha, delta and r (stored as logs) enter as the formula says."""
    x = log_mel_like(rng, (2, 7, 3))
    mask = prefix_mask([7, 4], 7)
    layer = PCEN(**SMALL)
    layer.build(x.shape)
    alpha, delta, root = np.array([0.5, 0.8, 1.0]), np.array([0.5, 1.0, 3.0]), np.array([0.25, 0.5, 0.3])
    layer.set_weights([np.log(alpha), np.log(delta), np.log(root)])
    np.testing.assert_allclose(np.asarray(layer(x, mask=mask)), reference(x, mask, 0.2, 6, alpha, delta, root),
                               rtol=1e-4, atol=1e-5)


def test_long_context_matches_the_recurrence(rng):
    """With a context long enough that the dropped weights are negligible, the smoother is the
    textbook recurrence (after its first frames, where the recurrence starts at E[0] and the
    layer averages over the frames there are)."""
    x = log_mel_like(rng, (1, 300, 2))
    smooth, alpha, delta, root = 0.05, 0.98, 2.0, 0.5
    out = np.asarray(PCEN(smooth=smooth, context_frames=300)(x))[0]
    m = recurrence(x[0], smooth)
    expected = (np.exp(x[0].astype(np.float64)) / (m + 1e-6) ** alpha + delta) ** root - np.sqrt(delta)
    np.testing.assert_allclose(out[200:], expected[200:], rtol=1e-4)  # (1 - 0.05) ** 200 < 4e-5


def test_a_gain_is_normalised_away(rng):
    """A gain g multiplies E and M alike, so E / M ** alpha changes by g ** (1 - alpha): with
    alpha 1 a gain of 1000 (60 dB) changes nothing."""
    x = log_mel_like(rng, (1, 40, 3))
    layer = PCEN(smooth=0.1, context_frames=64, alpha=1.0)
    np.testing.assert_allclose(np.asarray(layer(x + np.log(1000.0))), np.asarray(layer(x)), rtol=1e-4, atol=1e-5)


def test_padding_invariance(rng):
    """Junk frames appended (and put into the masked frames) change no valid frame."""
    x = log_mel_like(rng, (3, 7, 4))
    mask = random_masks(rng, 7)
    x_long, mask_long = junk_padded(rng, x, mask, extra=5)
    layer = PCEN(**SMALL)
    out = np.asarray(layer(x, mask=mask))
    out_long = np.asarray(layer(x_long, mask=mask_long))
    assert np.all(np.isfinite(out_long))
    np.testing.assert_allclose(out_long[:, :7], out, rtol=1e-5, atol=1e-6)
    assert np.all(out_long[~mask_long] == 0.0)


def test_all_masked_row_gives_zeros(rng):
    x = log_mel_like(rng, (2, 5, 3))
    mask = prefix_mask([3, 0], 5)
    out = np.asarray(PCEN(**SMALL)(x, mask=mask))
    assert np.all(np.isfinite(out))
    assert np.all(out[1] == 0.0)


def test_silence_of_log_mel_is_finite():
    """Digital silence: LogMelSpectrogram gives log(1e-6) everywhere; PCEN stays finite and small."""
    x = np.full((1, 20, 4), np.log(1e-6), np.float32)
    out = np.asarray(PCEN()(x))
    assert np.all(np.isfinite(out)) and np.all(np.abs(out) < 1.0)


def test_runs_in_float32_under_mixed_float16(rng):
    """Energies of exp(12) overflow float16; the layer computes in float32 and casts at the end."""
    x = log_mel_like(rng, (1, 50, 3)) + 12.0
    with dtype_policy("mixed_float16"):
        out = PCEN(smooth=0.1, context_frames=32)(x)
    assert out.dtype == "float16"
    np.testing.assert_allclose(np.asarray(out, np.float64), reference(x, np.ones((1, 50), bool), 0.1, 32, 0.98, 2.0, 0.5),
                               rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("batch", [1, 3])
def test_traced_matches_eager(rng, batch, assert_traced_matches_eager):
    layer = PCEN(**SMALL)
    assert_traced_matches_eager(layer, [log_mel_like(rng, (batch, n, 4)) for n in (11, 3, 40)])


@pytest.mark.parametrize("kwargs", [dict(smooth=0.0), dict(smooth=1.5), dict(context_frames=0),
                                    dict(alpha=0.0), dict(delta=-1.0), dict(root=0.0)])
def test_bad_arguments_are_rejected(kwargs):
    with pytest.raises(ValueError):
        PCEN(**kwargs)
