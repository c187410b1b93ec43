"""FramePadding: the shared layer checks, frame counts, padded size, zeros past ``length``, the
frame mask."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from harness import CHECKS, run_layer_test

from kerasser.config import AudioConfig
from kerasser.model.layers import FramePadding

AUDIO = AudioConfig()
L, STEP = AUDIO.frame_length, AUDIO.frame_step
LENGTHS = [1, 639, 640, 641, 800, 32000]


def assert_padded(waveform, lengths, padded, frame_mask, frame_length=L, frame_step=STEP, audio=AUDIO):
    """Every property ``FramePadding`` promises, checked against NumPy/AudioConfig."""
    padded, frame_mask = np.asarray(padded), np.asarray(frame_mask)
    frames = audio.num_frames(waveform.shape[1])
    assert padded.shape == (waveform.shape[0], (frames - 1) * frame_step + frame_length)
    assert frame_mask.shape == (waveform.shape[0], frames) and frame_mask.dtype == bool
    for row, n in enumerate(lengths):
        np.testing.assert_array_equal(padded[row, :n], waveform[row, :n])
        assert np.all(padded[row, n:] == 0.0)
        expected = np.arange(frames) < audio.num_frames(n)
        np.testing.assert_array_equal(frame_mask[row], expected)


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    waveform = rng.normal(size=(3, 900)).astype(np.float32)
    run_layer_test(
        check, FramePadding, dict(frame_length=400, frame_step=100, name="pad"),
        [waveform, np.array([900, 650, 1], np.int32)], skip={"gradient": "no weights"},
    )


@pytest.mark.parametrize("n", LENGTHS)
def test_frame_count_matches_audio_config(n):
    frames = AUDIO.num_frames(n)
    # the count is the smallest one whose frames cover all n samples (at least one frame)
    assert (frames - 1) * STEP + L >= n
    assert frames == 1 or (frames - 2) * STEP + L < n
    padded, mask = FramePadding()([np.ones((1, n), np.float32), np.array([n])])
    assert tuple(padded.shape) == (1, (frames - 1) * STEP + L)
    assert np.asarray(mask).tolist() == [[True] * frames]


def test_padded_batch(rng):
    """One batch holding every length, filled with nonzero junk past each length."""
    waveform = rng.normal(size=(len(LENGTHS), max(LENGTHS))).astype(np.float32) + 3.0
    lengths = np.array(LENGTHS, np.int32)
    padded, frame_mask = FramePadding()([waveform, lengths])
    assert_padded(waveform, LENGTHS, padded, frame_mask)


def test_length_shapes_and_dtypes(rng):
    """``length`` as [batch] or [batch, 1], int32 or int64, gives the same result."""
    waveform = rng.normal(size=(2, 1000)).astype(np.float32)
    layer = FramePadding()
    base = [np.asarray(t) for t in layer([waveform, np.array([700, 1000], np.int32)])]
    for length in (np.array([[700], [1000]], np.int32), np.array([700, 1000], np.int64)):
        out = [np.asarray(t) for t in layer([waveform, length])]
        for a, b in zip(out, base):
            np.testing.assert_array_equal(a, b)
    assert_padded(waveform, [700, 1000], *base)


def test_traced_with_unknown_dimensions(rng):
    layer = FramePadding()

    @tf.function(input_signature=[tf.TensorSpec([None, None]), tf.TensorSpec([None], tf.int32)])
    def traced(waveform, length):
        return layer([waveform, length])

    for n in (500, 640, 1000, 3000):
        waveform = rng.normal(size=(3, n)).astype(np.float32)
        lengths = np.array([n, n // 2, 1], np.int32)
        assert_padded(waveform, lengths, *traced(waveform, lengths))
    assert traced.experimental_get_tracing_count() == 1


def test_small_frames(rng):
    audio = AudioConfig(frame_length=40, frame_step=10)
    waveform = rng.normal(size=(3, 95)).astype(np.float32)
    lengths = [95, 41, 3]
    padded, frame_mask = FramePadding(40, 10)([waveform, np.array(lengths)])
    assert_padded(waveform, lengths, padded, frame_mask, 40, 10, audio)


def test_in_functional_model(rng):
    waveform = keras.Input((None,))
    length = keras.Input((), dtype="int32")
    padded, frame_mask = FramePadding()([waveform, length])
    assert tuple(padded.shape) == (None, None) and tuple(frame_mask.shape) == (None, None)
    model = keras.Model([waveform, length], [padded, frame_mask])
    x = rng.normal(size=(2, 900)).astype(np.float32)
    assert_padded(x, [900, 650], *model([x, np.array([900, 650], np.int32)]))

