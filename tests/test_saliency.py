"""Saliency maps (tf-keras-vis) over the input waveform: one value per input sample, exactly zero on
a batch's padding, equal to a direct tf.GradientTape of the head's logit, seeded SmoothGrad."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pytest.importorskip("tf_keras_vis")

from kerasser.config import AudioConfig, ModelConfig  # noqa: E402
from kerasser.evaluate.saliency import WaveformSaliency, envelope, logit_model  # noqa: E402
from kerasser.model.network import build_model  # noqa: E402

TINY = ModelConfig(
    frontend="logmel", audio=AudioConfig(frame_length=400), mel_bins=16, block_channels=(8,), block_dilations=(1,),
    block_kernel=3, gru_units=8, gru_layers=1, bidirectional=True, pool_heads=2, pool_statistics=True, l2=0.0,
    tasks=("arousal", "emotion"),
)


@pytest.fixture(scope="module")
def model():
    import keras

    keras.utils.set_random_seed(0)
    return build_model(TINY)


@pytest.fixture(scope="module")
def waves():
    rng = np.random.default_rng(0)
    return [rng.normal(size=4000).astype(np.float32), rng.normal(size=2500).astype(np.float32)]


def test_logits_are_the_heads_before_softmax(model, waves):
    logits_model, tasks = logit_model(model)
    assert tasks == ["arousal", "emotion"]
    x = np.stack([waves[0]])
    logits = logits_model([x, np.array([4000.0], np.float32)])
    probs = model({"waveform": x, "length": np.array([4000], np.int32)})
    for task, logit in zip(tasks, logits):
        np.testing.assert_allclose(tf.nn.softmax(logit).numpy(), probs[task].numpy(), atol=1e-6)


def test_a_task_read_off_the_emotion_head_gets_log_probabilities(waves):
    """derived_tasks: no head of its own; its logits are its probabilities' logs (softmax gives
    them back) and its map is not empty."""
    derived = build_model(dataclasses.replace(TINY, tasks=("dominance", "emotion"), derived_tasks=("dominance",)))
    logits_model, tasks = logit_model(derived)
    x = np.stack([waves[0]])
    logits = logits_model([x, np.array([4000.0], np.float32)])
    probs = derived({"waveform": x, "length": np.array([4000], np.int32)})
    for task, logit in zip(tasks, logits):
        np.testing.assert_allclose(tf.nn.softmax(logit).numpy(), probs[task].numpy(), atol=1e-6)
    assert WaveformSaliency(derived)(waves[1])["dominance"].max() > 0


@pytest.mark.slow  # measured over 5 s on 2 busy cores (--durations)
def test_maps_have_the_input_length_and_zero_on_padding(model, waves):
    saliency = WaveformSaliency(model)
    maps = saliency.batch(waves)
    assert set(maps) == {"arousal", "emotion"}
    for task, m in maps.items():
        assert m.shape == (2, 4000)
        assert np.all(m >= 0)
        assert np.all(m[1, 2500:] == 0.0), f"{task}: gradient on the padding of the shorter waveform"
        assert m[1, :2500].max() > 0 and m[0].max() > 0
        one = saliency(waves[1])[task]
        assert one.shape == (2500,)  # one call, one waveform: its own length
        np.testing.assert_allclose(one, m[1, :2500], rtol=1e-4, atol=1e-7)  # padding does not change the map


def test_vanilla_map_equals_a_direct_gradient(model, waves):
    """Reference: |d logit[c] / d waveform| by tf.GradientTape, c the predicted class."""
    logits_model, tasks = logit_model(model)
    x = tf.constant(waves[0][None])
    length = tf.constant([4000.0])
    maps = WaveformSaliency(model)(waves[0])
    for k, task in enumerate(tasks):
        with tf.GradientTape() as tape:
            tape.watch(x)
            logit = logits_model([x, length])[k][0]
            score = logit[int(np.argmax(logit.numpy()))]
        expected = np.abs(tape.gradient(score, x).numpy()[0])
        np.testing.assert_allclose(maps[task], expected, rtol=1e-4, atol=1e-8)


@pytest.mark.slow  # measured over 5 s on 2 busy cores (--durations)
def test_chosen_classes_and_seeded_smoothgrad(model, waves):
    vanilla = WaveformSaliency(model)
    assert not np.allclose(vanilla(waves[0], {"emotion": 0})["emotion"], vanilla(waves[0], {"emotion": 1})["emotion"])
    assert set(vanilla(waves[0], {"emotion": 0})) == {"emotion"}  # only the tasks asked for
    smooth = WaveformSaliency(model, smooth_samples=3, smooth_noise=0.1, seed=1)
    state = np.random.get_state()
    a, b = smooth.batch(waves), smooth.batch(waves)
    assert np.array_equal(np.random.get_state()[1], state[1])  # NumPy's global generator left as it was
    for task in a:
        np.testing.assert_array_equal(a[task], b[task])  # same seed, same maps
        assert np.all(a[task][1, 2500:] == 0.0)  # noise reaches the padding; the gradient does not
        assert not np.allclose(a[task], vanilla.batch(waves)[task])


def test_envelope():
    np.testing.assert_array_equal(envelope(np.array([1, 3, 2, 0, 5]), 2), [3, 2, 5])
    assert envelope(np.zeros(160), 160).shape == (1,)
