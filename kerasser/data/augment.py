"""Waveform augmentation for training: speed, crop, gain, band-limiting, reverberation, noise.

``augment(waveform, config, seed)`` returns a new float32 waveform; the same seed gives the same
result (every draw comes from ``numpy.random.default_rng(seed)``). The training pipeline calls
it once per example and epoch with a seed drawn from the run's seed, so a run repeats exactly.
Feature-level masking (SpecAugment) lives in the model graph: ``kerasser.model.layers.SpecAugment``.

Steps, in this order, each switched by its ``kerasser.config.AugmentConfig`` field:
  speed      resample by a factor from ``speed`` (Kaldi-style speed perturbation: 1.1 is faster
             and higher; soxr, as the audio loader);
  crop       with probability ``crop_prob``, keep a random span of ``crop_min_seconds`` or more;
  bandlimit  with probability ``bandlimit_prob``, a Butterworth band-pass with random edges
             (high-pass 50-300 Hz, low-pass 3-7 kHz): other microphones and channels;
  reverb     with probability ``reverb_prob``, convolution with a synthetic room impulse response
             (exponentially decaying noise, RT60 0.2-0.8 s, made here, no data set needed);
  noise      with probability ``noise_prob``, white or pink noise at a random SNR in ``snr_db``;
  codec      with probability ``codec_prob``, a telephone channel: 300-3400 Hz, 8 kHz and back, and
             G.711 mu-law's 8 bits per sample (the recordings people make on phones and calls);
  gain       a random gain in [-``gain_db``, +``gain_db``] dB.
"""

from __future__ import annotations

import functools

import numpy as np
import soxr

from kerasser.config import SAMPLE_RATE, AugmentConfig


def speed_perturb(x: np.ndarray, factor: float, sample_rate: int) -> np.ndarray:
    """Play ``x`` ``factor`` times as fast (length / factor, pitch * factor)."""
    if factor == 1.0 or x.size < 2:
        return x
    return soxr.resample(x, sample_rate * factor, sample_rate, quality="HQ").astype(np.float32)


def random_crop(x: np.ndarray, rng: np.random.Generator, min_samples: int) -> np.ndarray:
    if x.size <= min_samples:
        return x
    length = int(rng.integers(min_samples, x.size + 1))
    start = int(rng.integers(0, x.size - length + 1))
    return x[start : start + length]


@functools.lru_cache(maxsize=4096)
def _bandpass(low: float, high: float, sample_rate: int) -> np.ndarray:
    from scipy.signal import butter

    return butter(4, [low, high], btype="bandpass", fs=sample_rate, output="sos")


def band_limit(x: np.ndarray, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """A 4th-order Butterworth band-pass with random edges (50-300 Hz, 3-7 kHz), rounded to 10 and
    50 Hz so the designs (2 ms each) are cached: 26 x 81 filters cover every draw."""
    from scipy.signal import sosfilt

    low = round(rng.uniform(50.0, 300.0) / 10.0) * 10.0
    high = min(round(rng.uniform(3000.0, 7000.0) / 50.0) * 50.0, 0.45 * sample_rate)
    return sosfilt(_bandpass(low, high, sample_rate), x).astype(np.float32)


def room_impulse_response(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """A synthetic RIR: a unit direct path, then Gaussian noise decaying 60 dB in RT60 seconds."""
    rt60 = rng.uniform(0.2, 0.8)
    n = int(rt60 * sample_rate)
    t = np.arange(n) / sample_rate
    tail = rng.normal(size=n) * np.exp(-6.9078 * t / rt60)  # ln(1000): -60 dB at rt60
    tail *= rng.uniform(0.1, 0.5) / (np.sqrt(np.sum(tail**2)) + 1e-12)  # direct-to-reverberant ratio
    tail[0] = 1.0
    return tail


def reverberate(x: np.ndarray, rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    from scipy.signal import fftconvolve

    wet = fftconvolve(x, room_impulse_response(rng, sample_rate))[: x.size]
    return (wet * (rms(x) / (rms(wet) + 1e-12))).astype(np.float32)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def add_noise(x: np.ndarray, rng: np.random.Generator, snr_db: tuple[float, float]) -> np.ndarray:
    level = rms(x)
    if level == 0.0:
        return x
    noise = rng.normal(size=x.size)
    if rng.random() < 0.5:  # pink: 1/f power, shaped in the frequency domain
        from scipy.fft import irfft, next_fast_len, rfft

        n = next_fast_len(x.size, real=True)  # speed perturbation leaves lengths FFTs are slow at
        spectrum = rfft(noise, n=n)
        spectrum /= np.sqrt(np.maximum(np.arange(spectrum.size), 1.0))
        noise = irfft(spectrum, n=n)[: x.size]
    snr = rng.uniform(*snr_db)
    noise *= level / (rms(noise) + 1e-12) / (10.0 ** (snr / 20.0))
    return (x + noise).astype(np.float32)


MU = 255.0  # G.711 mu-law


def telephone(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """``x`` through a narrow-band telephone channel: band-passed to 300-3400 Hz, resampled to
    8 kHz and back, and quantised to 8-bit mu-law (G.711), at the input's level."""
    from scipy.signal import sosfilt

    if x.size < 2:
        return x
    level = np.max(np.abs(x)) or 1.0
    y = sosfilt(_bandpass(300.0, min(3400.0, 0.45 * sample_rate), sample_rate), x / level)
    if sample_rate > 8000:
        y = soxr.resample(soxr.resample(y, sample_rate, 8000, quality="HQ"), 8000, sample_rate, quality="HQ")[: x.size]
    y = np.clip(y, -1.0, 1.0)
    code = np.round(np.sign(y) * np.log1p(MU * np.abs(y)) / np.log1p(MU) * 127.0) / 127.0  # 8 bits
    return (level * np.sign(code) * np.expm1(np.abs(code) * np.log1p(MU)) / MU).astype(np.float32)


def augment(waveform: np.ndarray, config: AugmentConfig, seed: int, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """One augmented copy of a float32 mono ``waveform`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(waveform, np.float32)
    if config.speed:
        x = speed_perturb(x, float(rng.choice(config.speed)), sample_rate)
    if config.crop_prob and rng.random() < config.crop_prob:
        x = random_crop(x, rng, int(config.crop_min_seconds * sample_rate))
    if config.bandlimit_prob and rng.random() < config.bandlimit_prob:
        x = band_limit(x, rng, sample_rate)
    if config.reverb_prob and rng.random() < config.reverb_prob:
        x = reverberate(x, rng, sample_rate)
    if config.noise_prob and rng.random() < config.noise_prob:
        x = add_noise(x, rng, config.snr_db)
    if config.codec_prob and rng.random() < config.codec_prob:
        x = telephone(x, sample_rate)
    if config.gain_db:
        x = x * np.float32(10.0 ** (rng.uniform(-config.gain_db, config.gain_db) / 20.0))
    return np.ascontiguousarray(x, np.float32)
