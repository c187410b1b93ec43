"""LogMelSpectrogram: the shared layer checks, a NumPy (TensorFlow-free) reference, a sine,
silence, the trainable filterbank, float32 inside mixed precision, traced == eager, argument
checks."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from harness import CHECKS, dtype_policy, run_layer_test

from kerasser.model.layers import LogMelSpectrogram

# small sizes: 25 ms frames every 10 ms at 16 kHz, 512-point FFT, 40 mel bands
SMALL = dict(sample_rate=16000, frame_length=400, frame_step=160, fft_length=512, num_mel_bins=40)


# --- NumPy reference (no TensorFlow) -----------------------------------------------------------


def hz_to_mel(f):
    """HTK mel scale."""
    return 1127.0 * np.log1p(np.asarray(f, np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * np.expm1(np.asarray(m, np.float64) / 1127.0)


def np_mel_filterbank(num_mel_bins, fft_length, sample_rate, lower_edge_hertz, upper_edge_hertz):
    """[fft_length // 2 + 1, num_mel_bins] triangles in mel between evenly mel-spaced edges,
    evaluated at the linear-frequency bin centres; the DC row is all zero (as in
    ``tf.signal.linear_to_mel_weight_matrix``)."""
    bins = fft_length // 2 + 1
    bin_mel = hz_to_mel(np.arange(bins) * sample_rate / fft_length)[:, None]
    edges = np.linspace(hz_to_mel(lower_edge_hertz), hz_to_mel(upper_edge_hertz), num_mel_bins + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bin_mel - lower) / (centre - lower)
    falling = (upper - bin_mel) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0] = 0.0
    return weights


def band_centres_hz(num_mel_bins, lower_edge_hertz, upper_edge_hertz):
    edges = np.linspace(hz_to_mel(lower_edge_hertz), hz_to_mel(upper_edge_hertz), num_mel_bins + 2)
    return mel_to_hz(edges[1:-1])


def np_mel_energy(signal, sample_rate, frame_length, frame_step, fft_length, num_mel_bins,
                  lower_edge_hertz=20.0, upper_edge_hertz=7600.0):
    """Mel energies [frames, num_mel_bins] of one 1-D signal, in float64."""
    x = np.asarray(signal, np.float64)
    count = 1 + (len(x) - frame_length) // frame_step
    frames = np.stack([x[i * frame_step : i * frame_step + frame_length] for i in range(count)])
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame_length) / frame_length)  # periodic Hann
    power = np.abs(np.fft.rfft(frames * window, n=fft_length, axis=-1)) ** 2
    bank = np_mel_filterbank(num_mel_bins, fft_length, sample_rate, lower_edge_hertz, upper_edge_hertz)
    return power @ bank


def np_log_mel(signal, log_offset=1e-6, **config):
    return np.log(np_mel_energy(signal, **config) + log_offset)


# --- the shared layer checks ---------------------------------------------------------------------

FLOAT32_BY_DESIGN = (
    "float32 by design: tf.signal.rfft has no float16 kernel, and float16 power spectra can "
    "overflow (max 65504); in a mixed-precision model make it with dtype='float32'"
)


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("trainable_filterbank", [False, True])
def test_layer_checks(rng, check, trainable_filterbank):
    waveform = rng.normal(scale=0.1, size=(2, 400 + 160 * 3)).astype(np.float32)
    init = dict(SMALL, log_offset=1e-5, trainable_filterbank=trainable_filterbank, name="mel")
    skip = {"mixed_float16": FLOAT32_BY_DESIGN}
    if not trainable_filterbank:
        skip["gradient"] = "the fixed filterbank is its only weight: nothing to train"
    run_layer_test(check, LogMelSpectrogram, init, waveform, skip=skip)


def test_runs_in_float32_under_mixed_float16(rng):
    """What the opt-out above relies on: made with dtype='float32', it works in a mixed model."""
    waveform = rng.normal(scale=0.1, size=(2, 400 + 160 * 3)).astype(np.float32)
    with dtype_policy("mixed_float16"):
        layer = LogMelSpectrogram(**SMALL, dtype="float32")
        out = np.asarray(layer(waveform))
    assert layer.compute_dtype == "float32" and out.dtype == np.float32
    np.testing.assert_allclose(out, np.asarray(LogMelSpectrogram(**SMALL)(waveform)), atol=1e-6)


# --- values -------------------------------------------------------------------------------------


def test_filterbank_matches_numpy_htk_triangles():
    layer = LogMelSpectrogram(**SMALL)
    layer.build((None, None))
    bank = np.asarray(layer.filterbank)
    expected = np_mel_filterbank(40, 512, 16000, 20.0, 7600.0)
    assert bank.shape == (257, 40)
    assert np.all(bank[0] == 0.0)  # the DC bin is skipped
    assert np.all(bank.max(axis=0) > 0)  # every band has some bin in it
    np.testing.assert_allclose(bank, expected, atol=1e-5)


def test_matches_numpy_reference_on_random_signals(rng):
    lengths = (400, 400 + 160 * 3, 400 + 160 * 5 + 77)  # one frame, several, a ragged tail
    layer = LogMelSpectrogram(**SMALL)
    for length in lengths:
        x = rng.normal(scale=0.1, size=(2, length)).astype(np.float32)
        out = np.asarray(layer(x))
        frames = 1 + (length - 400) // 160
        assert out.shape == (2, frames, 40)
        for b in range(2):
            energy = np_mel_energy(x[b], **SMALL)
            assert energy.min() > 1e3 * 1e-6  # well above log_offset: a meaningful comparison
            np.testing.assert_allclose(out[b], np.log(energy + 1e-6), atol=1e-3)


def test_matches_numpy_reference_on_a_sine():
    t = np.arange(400 + 160 * 4) / 16000
    x = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)[None]
    out = np.asarray(LogMelSpectrogram(**SMALL)(x))[0]
    energy = np_mel_energy(x[0], **SMALL)
    strong = energy > 1e-3  # the bands with the tone and its window's leakage
    assert strong.sum() >= 5 * 4
    np.testing.assert_allclose(out[strong], np.log(energy[strong] + 1e-6), atol=1e-3)


def test_sine_peaks_in_the_band_centred_nearest_its_frequency():
    t = np.arange(400 + 160 * 4) / 16000
    x = np.sin(2 * np.pi * 1000.0 * t).astype(np.float32)[None]
    out = np.asarray(LogMelSpectrogram(**SMALL)(x))[0]  # [frames, 40]
    nearest = int(np.argmin(np.abs(band_centres_hz(40, 20.0, 7600.0) - 1000.0)))
    assert np.all(out.argmax(axis=-1) == nearest)


def test_silence_gives_log_of_log_offset():
    layer = LogMelSpectrogram(**SMALL, log_offset=1e-5)
    out = np.asarray(layer(np.zeros((2, 400 + 160 * 2), np.float32)))
    assert out.shape == (2, 3, 40)
    np.testing.assert_allclose(out, np.log(1e-5), atol=1e-6)


# --- the filterbank weight -----------------------------------------------------------------------


def test_fixed_filterbank_is_not_trainable():
    layer = LogMelSpectrogram(**SMALL)
    layer.build((None, None))
    assert layer.filterbank.trainable is False
    assert layer.trainable_weights == []
    assert {w.path.split("/")[-1] for w in layer.non_trainable_weights} == {"filterbank"}


def test_trainable_filterbank_stays_non_negative_after_a_step(rng):
    layer = LogMelSpectrogram(**SMALL, trainable_filterbank=True)
    layer.build((None, None))
    assert layer.filterbank.trainable is True
    assert [w.path.split("/")[-1] for w in layer.trainable_weights] == ["filterbank"]
    before = np.asarray(layer.filterbank).copy()

    x = rng.normal(scale=0.1, size=(2, 400 + 160 * 3)).astype(np.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x))  # every weight's gradient is >= 0: SGD pushes them down
    grads = tape.gradient(loss, layer.trainable_weights)
    grad = np.asarray(grads[0])
    lr = 1.0
    assert np.any(before - lr * grad < 0)  # without the constraint some weight would go negative
    keras.optimizers.SGD(learning_rate=lr).apply(grads, layer.trainable_weights)

    after = np.asarray(layer.filterbank)
    assert np.all(after >= 0.0)
    assert not np.allclose(after, before)  # the step did change the filterbank
    clipped = (before > 0) & (before - lr * grad < 0)
    assert clipped.any() and np.all(after[clipped] == 0.0)


# --- tracing and arguments ----------------------------------------------------------------------


@pytest.mark.parametrize("batch", [1, 2])
def test_traced_matches_eager(rng, batch, assert_traced_matches_eager):
    layer = LogMelSpectrogram(**SMALL)
    lengths = (400, 400 + 160 * 2, 400 + 160 * 6 + 33)
    inputs = [rng.normal(scale=0.1, size=(batch, n)).astype(np.float32) for n in lengths]
    assert_traced_matches_eager(layer, inputs, atol=1e-4)


def test_fft_shorter_than_frame_is_rejected():
    with pytest.raises(ValueError, match="fft_length"):
        LogMelSpectrogram(frame_length=400, fft_length=256)


@pytest.mark.parametrize("lower, upper", [(-1.0, 4000.0), (4000.0, 4000.0), (20.0, 9000.0)])
def test_bad_band_edges_are_rejected(lower, upper):
    with pytest.raises(ValueError):
        LogMelSpectrogram(sample_rate=16000, lower_edge_hertz=lower, upper_edge_hertz=upper)


def test_loads_weights_saved_with_a_dft_basis(rng):
    """The first version stored [DFT basis, filterbank]; its saved weights still load."""
    layer = LogMelSpectrogram(**SMALL)
    layer.build((None, None))
    filterbank = rng.uniform(size=tuple(layer.filterbank.shape)).astype(np.float32)
    old_store = {"0": np.zeros((SMALL["frame_length"], 2 * (SMALL["fft_length"] // 2 + 1)), np.float32), "1": filterbank}
    layer.load_own_variables(old_store)
    np.testing.assert_array_equal(np.asarray(layer.filterbank), filterbank)
    layer.load_own_variables({"0": filterbank * 2})  # the current layout
    np.testing.assert_array_equal(np.asarray(layer.filterbank), filterbank * 2)
