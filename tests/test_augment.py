"""kerasser.data.augment and the pipeline's augmentation: determinism with a seed, each step's effect."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from fakes import sine  # tests/fakes.py

from kerasser.data.augment import AugmentConfig, add_noise, augment, rms, room_impulse_response, speed_perturb

RATE = 16000
ALL_ON = AugmentConfig(speed=(0.9, 1.0, 1.1), crop_prob=0.5, crop_min_seconds=0.5, gain_db=6.0,
                       noise_prob=0.5, reverb_prob=0.5, bandlimit_prob=0.5, codec_prob=0.5)


def test_same_seed_same_result_other_seed_other_result():
    x = sine(1.0, RATE, freq=440.0)
    a, b = augment(x, ALL_ON, 7), augment(x, ALL_ON, 7)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32
    others = [augment(x, ALL_ON, s) for s in range(8, 14)]
    assert any(o.shape != a.shape or not np.allclose(o, a) for o in others)


def test_everything_off_is_identity():
    x = sine(1.0, RATE, freq=440.0)
    config = AugmentConfig()
    assert not config.active
    np.testing.assert_array_equal(augment(x, config, 3), x)
    assert not AugmentConfig(speed=(1.0,)).active


@pytest.mark.parametrize("factor", [0.9, 1.1])
def test_speed_changes_length_and_pitch(factor):
    x = sine(1.0, RATE, freq=1000.0)
    y = speed_perturb(x, factor, RATE)
    assert abs(len(y) - len(x) / factor) <= 2
    peak_hz = np.argmax(np.abs(np.fft.rfft(y))) * RATE / len(y)
    assert abs(peak_hz - 1000.0 * factor) < 5.0


def test_crop_keeps_a_contiguous_span_of_at_least_the_minimum():
    x = np.arange(RATE, dtype=np.float32)  # every sample tells its position
    config = AugmentConfig(crop_prob=1.0, crop_min_seconds=0.25)
    lengths = set()
    for seed in range(20):
        y = augment(x, config, seed)
        assert len(y) >= RATE // 4
        np.testing.assert_array_equal(np.diff(y), 1.0)
        lengths.add(len(y))
    assert len(lengths) > 5


def test_noise_reaches_the_drawn_snr():
    x = sine(1.0, RATE, freq=440.0)
    rng = np.random.default_rng(0)
    y = add_noise(x, rng, (10.0, 10.0))
    snr = 20 * np.log10(rms(x) / rms(y - x))
    assert abs(snr - 10.0) < 0.1
    silence = np.zeros(100, np.float32)
    np.testing.assert_array_equal(add_noise(silence, rng, (10.0, 10.0)), silence)


def test_reverberation_keeps_level_and_direct_path():
    rng = np.random.default_rng(1)
    rir = room_impulse_response(rng, RATE)
    assert rir[0] == 1.0 and 0.2 * RATE <= len(rir) <= 0.8 * RATE
    # decays: the last tenth has far less energy than the first
    tenth = len(rir) // 10
    assert np.sum(rir[-tenth:] ** 2) < 1e-3 * np.sum(rir[1:tenth] ** 2)
    x = sine(1.0, RATE, freq=440.0)
    y = augment(x, AugmentConfig(reverb_prob=1.0), 2)
    assert len(y) == len(x) and abs(rms(y) / rms(x) - 1.0) < 1e-3


def test_bandlimit_removes_high_frequencies():
    x = sine(1.0, RATE, freq=7800.0) + sine(1.0, RATE, freq=1000.0)
    y = augment(x, AugmentConfig(bandlimit_prob=1.0), 4)
    spectrum = lambda s, hz: np.abs(np.fft.rfft(s))[int(hz)]  # 1 s: bin = Hz  # noqa: E731
    assert spectrum(y, 7800) < 0.05 * spectrum(x, 7800)
    assert spectrum(y, 1000) > 0.5 * spectrum(x, 1000)


def test_telephone_channel_is_narrow_band_and_mu_law():
    """300-3400 Hz through 8 kHz, 8-bit mu-law (at most 256 levels), the level kept."""
    x = 0.5 * sine(1.0, RATE, freq=5000.0) + 0.5 * sine(1.0, RATE, freq=1000.0)
    y = augment(x, AugmentConfig(codec_prob=1.0), 4)
    spectrum = lambda s, hz: np.abs(np.fft.rfft(s))[int(hz)]  # 1 s: bin = Hz  # noqa: E731
    assert spectrum(y, 5000) < 0.01 * spectrum(x, 5000)
    assert spectrum(y, 1000) > 0.5 * spectrum(x, 1000)
    assert len(np.unique(np.round(y / np.max(np.abs(y)), 6))) <= 256
    assert 0.3 < rms(y) / rms(x) < 1.2 and len(y) == len(x)
    z = sine(1.0, RATE, freq=1000.0)  # in band: a close copy after the codec's delay
    assert np.max(np.abs(np.correlate(augment(z, AugmentConfig(codec_prob=1.0), 1), z, "full"))) > 0.8 * np.dot(z, z)


def test_gain_within_range():
    x = sine(1.0, RATE, freq=440.0)
    for seed in range(10):
        ratio = rms(augment(x, AugmentConfig(gain_db=6.0), seed)) / rms(x)
        assert 10 ** (-6 / 20) - 1e-6 <= ratio <= 10 ** (6 / 20) + 1e-6


def test_invalid_configs():
    for bad in (dict(speed=(0.0,)), dict(noise_prob=1.5), dict(snr_db=(30.0, 5.0)), dict(gain_db=-1.0)):
        with pytest.raises(ValueError):
            AugmentConfig(**bad)


def test_short_and_silent_inputs():
    for x in (np.zeros(1, np.float32), np.zeros(1000, np.float32), np.ones(3, np.float32)):
        y = augment(x, ALL_ON, 5)
        assert y.ndim == 1 and len(y) >= 1 and np.all(np.isfinite(y))


def test_pipeline_augmentation_is_seeded_and_new_every_epoch():
    """Two pipelines with the same seed give the same augmented epochs; epochs differ."""
    import tensorflow as tf

    from kerasser.data import dataset as data
    waves = [sine(0.5, RATE, freq=hz) for hz in (300.0, 500.0, 700.0)]

    def examples():
        ds = tf.data.Dataset.from_tensor_slices([w for w in waves])
        return ds.map(lambda w: ({"waveform": w, "length": tf.shape(w)[0]}, {"arousal": 0}, {"arousal": 1.0}))

    config = AugmentConfig(speed=(0.9, 1.1), noise_prob=1.0)

    def epochs(seed):
        ds = data.augmented(examples(), config, seed)
        return [[x["waveform"].numpy() for x, _, _ in ds] for _ in range(2)]

    first, second = epochs(3), epochs(3)
    for a, b in zip(first, second):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    assert any(x.shape != y.shape or not np.allclose(x, y) for x, y in zip(*first))
    lengths = {len(x) for epoch in first for x in epoch}
    assert lengths <= {round(8000 / 0.9), round(8000 / 1.1), round(8000 / 0.9) - 1, round(8000 / 1.1) + 1,
                       round(8000 / 0.9) + 1, round(8000 / 1.1) - 1}


def test_class_weights_balance_each_task():
    from kerasser.data.corpora import Utterance
    from kerasser.data.dataset import class_weights

    utts = [Utterance(f"{i}.wav", "s", "train", {"arousal": label}) for i, label in enumerate([0, 0, 0, 2])]
    utts.append(Utterance("x.wav", "s", "train", {"emotion": 1}))
    w = class_weights(utts, ("arousal", "emotion"))
    np.testing.assert_allclose(w["arousal"], [4 / 6, 0.0, 4 / 2])
    counts = np.array([3, 0, 1])
    assert np.isclose(np.sum(w["arousal"] * counts), 4)  # mean weight over the examples is 1
    assert w["emotion"][1] == 1.0 and np.count_nonzero(w["emotion"]) == 1
    assert dataclasses.is_dataclass(utts[0])


@pytest.mark.slow  # measured over 5 s on 2 busy cores (--durations)
def test_every_training_pass_has_the_same_batches_and_depends_on_the_epoch_only():
    """With speed perturbation moving utterances across length buckets, every pass still has the
    same number of batches (Keras keeps the first epoch's count and drops batches past it), and a
    pass is a function of (seed, epoch): the same epoch twice gives the same batches."""
    import tensorflow as tf

    from kerasser.data import dataset as data
    lengths = [7600, 8000, 8400, 15500, 16000, 16500, 23800, 24000, 24200, 31900, 32000] * 2
    waves = [sine(n / RATE, RATE) for n in lengths]

    def generate():
        for w in waves:
            yield {"waveform": w, "length": np.int32(len(w))}, {"arousal": np.int32(0)}, {"arousal": np.float32(1)}

    examples = tf.data.Dataset.from_generator(generate, output_signature=data.element_spec(["arousal"])).cache()
    epoch = tf.Variable(0, dtype=tf.int64)
    config = AugmentConfig(speed=(0.9, 1.0, 1.1))
    ds = data.batched(examples, 3, training=True, seed=5, augment_config=config, sample_rate=RATE, epoch=epoch)

    def one(e):
        epoch.assign(e)
        return [(x["waveform"].numpy(), x["length"].numpy()) for x, _, _ in ds]

    passes = [one(e) for e in range(4)]
    assert len({len(p) for p in passes}) == 1
    assert sum(len(n) for _, n in passes[0]) == len(lengths)
    again = one(2)
    for (w1, n1), (w2, n2) in zip(passes[2], again, strict=True):
        np.testing.assert_array_equal(w1, w2)
        np.testing.assert_array_equal(n1, n2)
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(passes[0], passes[1]))  # epochs differ
