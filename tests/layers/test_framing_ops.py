"""framing_ops: ``frame`` and ``channel_max_pool`` against NumPy, ``config.num_frames`` on tensors against AudioConfig."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from kerasser.config import AudioConfig, num_frames
from kerasser.model.layers.framing_ops import channel_max_pool, frame


def np_frame(x: np.ndarray, frame_length: int, step: int) -> np.ndarray:
    count = (x.shape[1] - frame_length) // step + 1
    return np.stack([x[:, f * step : f * step + frame_length] for f in range(count)], axis=1)


SIZES = [(640, 160), (261, 80), (359, 320), (5, 3), (3, 5)]


@pytest.mark.parametrize("frame_length, step", SIZES)
def test_frame_matches_numpy(rng, frame_length, step):
    for frames in (1, 2, 5):
        for leftover in (0, 1, step - 1):  # samples that do not make another complete frame
            time = (frames - 1) * step + frame_length + leftover
            x = rng.normal(size=(2, time, 3)).astype(np.float32)
            out = np.asarray(frame(tf.constant(x), frame_length, step))
            assert out.shape == (2, frames, frame_length, 3)
            np.testing.assert_array_equal(out, np_frame(x, frame_length, step))


@pytest.mark.parametrize("frame_length, step", SIZES)
def test_frame_traced_with_unknown_time(rng, frame_length, step):
    traced = tf.function(
        lambda x: frame(x, frame_length, step), input_signature=[tf.TensorSpec([None, None, 2])]
    )
    for time in (frame_length, frame_length + step, frame_length + 4 * step + 1):
        x = rng.normal(size=(3, time, 2)).astype(np.float32)
        np.testing.assert_array_equal(np.asarray(traced(x)), np_frame(x, frame_length, step))
    assert traced.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("shape, pool", [((2, 3, 12), 3), ((2, 3, 12), 4), ((2, 4, 5, 6), 2), ((1, 8), 8)])
def test_channel_max_pool_matches_numpy(rng, shape, pool):
    x = rng.normal(size=shape).astype(np.float32)
    expected = x.reshape(*shape[:-1], shape[-1] // pool, pool).max(axis=-1)
    np.testing.assert_array_equal(np.asarray(channel_max_pool(tf.constant(x), pool)), expected)


def test_channel_max_pool_traced(rng):
    traced = tf.function(lambda x: channel_max_pool(x, 5), input_signature=[tf.TensorSpec([None, None, 10])])
    for time in (1, 7):
        x = rng.normal(size=(2, time, 10)).astype(np.float32)
        np.testing.assert_array_equal(np.asarray(traced(x)), x.reshape(2, time, 2, 5).max(axis=-1))


@pytest.mark.parametrize("frame_length, step", [(640, 160), (40, 10), (359, 320)])
def test_num_frames_matches_audio_config(frame_length, step):
    audio = AudioConfig(frame_length=frame_length, frame_step=step)
    ns = np.arange(0, 4 * frame_length + 3 * step)
    expected = [audio.num_frames(int(n)) for n in ns]
    assert [int(num_frames(int(n), frame_length, step)) for n in ns] == expected  # Python ints
    tensor = num_frames(tf.constant(ns, tf.int32), frame_length, step, tf.maximum)  # integer tensors
    np.testing.assert_array_equal(np.asarray(tensor), expected)
