"""Property tests (hypothesis) for the audio loader and the input pipeline: any length from one
sample, any rate, any channel count, any sample type, any batch of lengths."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from kerasser.config import AugmentConfig
from kerasser.data import audio

TARGET = audio.SAMPLE_RATE
RATES = st.one_of(st.sampled_from([8000, 11025, 16000, 22050, 44100, 48000, 96000]), st.integers(1000, 192000))
pytestmark = pytest.mark.filterwarnings("ignore:You are using a softmax over axis:UserWarning")  # one-frame inputs
FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_mono(wave: np.ndarray, frames: int, rate: int) -> None:
    """Float32, 1-D, finite, and as long as ``frames`` at ``rate`` are at the target rate."""
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert np.isfinite(wave).all()
    assert abs(len(wave) - frames * TARGET / rate) <= 1.0


@FEW
@given(
    frames=st.integers(1, 6000),
    rate=RATES,
    channels=st.integers(1, 8),
    subtype=st.sampled_from(["PCM_16", "PCM_24", "FLOAT", "PCM_U8"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_loader_reads_any_length_rate_and_channel_count(tmp_path_factory, frames, rate, channels, subtype, seed):
    samples = np.random.default_rng(seed).uniform(-1, 1, (frames, channels)).astype(np.float32)
    path = tmp_path_factory.mktemp("wav") / "x.wav"
    sf.write(path, samples, rate, subtype=subtype)
    try:
        wave = audio.load(path)
    except audio.AudioError as err:  # one sample at 96 kHz is no sample at 16 kHz
        assert frames * TARGET / rate < 1.0
        assert err.reason == f"empty audio (too short to resample from {rate} Hz)"
        return
    check_mono(wave, frames, rate)
    if rate == TARGET:  # no resampling: mono is exactly the channel mean of the decoded samples
        decoded, _ = sf.read(path, dtype="float32", always_2d=True)
        np.testing.assert_allclose(wave, decoded.mean(axis=1), atol=1e-6)


@FEW
@given(
    samples=st.one_of(
        arrays(st.sampled_from([np.int8, np.int16, np.int32, np.uint8, np.float32, np.float64]),
               st.tuples(st.integers(1, 3000))),
        arrays(np.int16, st.tuples(st.integers(1, 3000), st.integers(1, 6))),
    ),
    rate=RATES,
)
@example(samples=np.full(2000, 2147483584, np.int32), rate=TARGET)  # rounded up to 1.0 in float32 once
def test_from_array_any_type_and_shape(samples, rate):
    if samples.dtype.kind == "f":
        samples = np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0).clip(-1, 1)
    try:
        wave = audio.from_array(samples, rate)
    except audio.AudioError as err:
        assert len(samples) * TARGET / rate < 1.0 and err.reason.startswith("empty audio (too short")
        return
    check_mono(wave, len(samples), rate)
    if samples.dtype.kind in "iu" and rate == TARGET:  # integer full scale maps into [-1, 1)
        assert wave.min() >= -1.0 and wave.max() < 1.0


@FEW
@given(
    samples=arrays(np.float32, st.integers(1, 4000), elements=st.floats(-1, 1, width=32)),
    bad=st.sampled_from([np.nan, np.inf, -np.inf]),
    where=st.floats(0, 1, exclude_max=True),
)
def test_non_finite_samples_are_refused_anywhere(samples, bad, where):
    samples[int(where * len(samples))] = bad
    with pytest.raises(audio.AudioError, match=r"non-finite samples \(NaN or inf\)$"):
        audio.from_array(samples, TARGET)


AUGMENT = AugmentConfig(speed=(0.9, 1.0, 1.1), crop_prob=0.5, gain_db=6.0, noise_prob=0.5, reverb_prob=0.5,
                        bandlimit_prob=0.5)


@FEW
@given(
    samples=arrays(np.float32, st.integers(1, 8000), elements=st.floats(-1, 1, width=32)),
    seed=st.integers(0, 2**63 - 1),
)
def test_augmentation_keeps_any_waveform_usable(samples, seed):
    from kerasser.data.augment import augment

    out = augment(samples, AUGMENT, seed, TARGET)
    assert out.dtype == np.float32 and out.ndim == 1 and len(out) >= 1
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out, augment(samples, AUGMENT, seed, TARGET))  # seeded: repeatable


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lengths=st.lists(st.integers(1, 40000), min_size=1, max_size=12),
    batch_size=st.integers(1, 5),
    training=st.booleans(),
)
def test_batches_hold_every_example_once_with_zero_padding(lengths, batch_size, training):
    tf = pytest.importorskip("tensorflow")
    from kerasser.data.dataset import batched, element_spec

    def generate():
        for i, n in enumerate(lengths):
            wave = np.full(n, (i + 1) / 100, np.float32)  # the value names the example
            yield {"waveform": wave, "length": np.int32(n)}, {"arousal": np.int32(i % 3)}, {"arousal": np.float32(1)}

    ds = tf.data.Dataset.from_generator(generate, output_signature=element_spec(["arousal"]))
    seen = []
    for inputs, labels, _ in batched(ds, batch_size, training=training, seed=1, augment_config=AUGMENT):
        waves, lens = inputs["waveform"].numpy(), inputs["length"].numpy()
        assert waves.shape[0] == lens.shape[0] <= batch_size and waves.shape[1] == lens.max()
        for row, n in zip(waves, lens):
            assert n >= 1 and not row[n:].any()  # padding is zeros, past each row's length
            if not training:  # no augmentation: the samples are the example's own
                seen.append((int(round(row[0] * 100)) - 1, int(n)))
        if training:
            seen += [(int(i), None) for i in labels["arousal"].numpy()]
    assert len(seen) == len(lengths)
    if not training:
        assert seen == [(i, n) for i, n in enumerate(lengths)]
    else:
        assert sorted(i for i, _ in seen) == sorted(i % 3 for i in range(len(lengths)))


def _tiny_model():
    import dataclasses

    import keras

    from kerasser.config import AudioConfig, ModelConfig
    from kerasser.model.network import build_model, with_attention_outputs

    keras.utils.set_random_seed(0)
    config = ModelConfig(
        frontend="logmel", audio=AudioConfig(frame_length=400), mel_bins=16, block_channels=(8,),
        block_dilations=(1,), block_kernel=3, gru_units=8, gru_layers=1, bidirectional=True,
        pool_statistics=True, recurrent_stride=2, tasks=("arousal", "emotion"), l2=0.0,
    )
    return with_attention_outputs(build_model(dataclasses.replace(config))), config


@pytest.fixture(scope="module")
def tiny():
    pytest.importorskip("tensorflow")
    return _tiny_model()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(length=st.integers(1, 24000), seed=st.integers(0, 1000))
def test_model_gives_probabilities_and_attention_for_any_length(tiny, length, seed):
    model, config = tiny
    wave = np.random.default_rng(seed).normal(0, 0.1, length).astype(np.float32)
    out = {k: np.asarray(v) for k, v in model({"waveform": wave[None], "length": np.array([length], np.int32)},
                                                training=False).items()}
    for task in config.tasks:
        probs = out[task][0]
        assert np.isfinite(probs).all() and probs.sum() == pytest.approx(1.0, abs=1e-5)
        attention = out[f"{task}_attention"][0]
        assert np.isfinite(attention).all() and attention.sum() == pytest.approx(1.0, abs=1e-4)
