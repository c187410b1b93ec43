"""FramedFrontEnd: the shared layer checks, feature sizes, a NumPy reference, traced == eager.

Also records what Keras 3.15's ``TimeDistributed`` does under tracing with an unknown time
axis (the trap ``FramedFrontEnd`` is written to avoid).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from harness import CHECKS, run_layer_test
from layer_helpers import FRONT_END_SMALL, FRONT_END_TINY, PAPER_FRAME_LENGTHS, np_conv1d, randomize

from kerasser.model.layers import FramedFrontEnd

# --- NumPy reference ---------------------------------------------------------------------------


def np_max_pool(x: np.ndarray, pool: int) -> np.ndarray:
    steps = x.shape[0] // pool
    return x[: steps * pool].reshape(steps, pool, x.shape[1]).max(axis=1)


def np_frame_features(samples: np.ndarray, weights, config: dict, padding: str) -> np.ndarray:
    """The front end's features of one frame of ``frame_length`` samples, flattened."""
    k1, b1, k2, b2 = (w.astype(np.float64) for w in weights)
    x = np.maximum(np_conv1d(samples.astype(np.float64)[:, None], k1, padding) + b1, 0.0)
    x = np_max_pool(x, config["time_pool"])
    x = np.maximum(np_conv1d(x, k2, padding) + b2, 0.0)
    pool = config["channel_pool"]
    x = x.reshape(x.shape[0], x.shape[1] // pool, pool).max(axis=-1)
    return x.reshape(-1)


# --- tests -------------------------------------------------------------------------------------


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_layer_checks(rng, check, padding):
    waveform = rng.normal(size=(2, 3 * 10 + 40)).astype(np.float32)  # four frames
    init = dict(padding=padding, l2=1e-3, name="frontend", **FRONT_END_TINY)
    run_layer_test(check, FramedFrontEnd, init, waveform)


@pytest.mark.parametrize("padding, features", [("same", 1280), ("valid", 1044)])
def test_paper_feature_size(rng, padding, features):
    """The default (paper) stack: 1,280 features a frame with 'same' padding, 1,044 with 'valid'."""
    pooled = 640 // 2 if padding == "same" else (640 - 40 + 1) // 2 - 40 + 1
    assert pooled * 40 // 10 == features  # steps left of a frame x filters / channel pool
    layer = FramedFrontEnd(padding=padding)
    assert layer.features == features
    out = layer(rng.normal(size=(1, 800)).astype(np.float32))  # two frames
    assert tuple(out.shape) == (1, 2, features)
    assert layer.compute_output_shape((1, 800)) == (1, None, features)


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_matches_numpy_reference(rng, padding):
    config = FRONT_END_TINY
    layer = FramedFrontEnd(padding=padding, **config)
    frames, L, step = 4, config["frame_length"], config["frame_step"]
    waveform = rng.normal(size=(2, (frames - 1) * step + L)).astype(np.float32)
    layer.build(waveform.shape)
    weights = randomize(layer, rng)
    out = np.asarray(layer(waveform))
    assert out.shape == (2, frames, layer.features)
    for b in range(2):
        for f in range(frames):
            expected = np_frame_features(waveform[b, f * step : f * step + L], weights, config, padding)
            assert expected.shape == (layer.features,)
            np.testing.assert_allclose(out[b, f], expected, atol=1e-5)


def test_l2_penalises_both_kernels(rng):
    layer = FramedFrontEnd(l2=1e-2, **FRONT_END_TINY)
    layer.build((None, None))
    k1, _, k2, _ = randomize(layer, rng)
    expected = 1e-2 * (np.sum(k1.astype(np.float64) ** 2) + np.sum(k2.astype(np.float64) ** 2))
    np.testing.assert_allclose(float(sum(layer.losses)), expected, rtol=1e-5)


@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("batch", [1, 2])
def test_traced_matches_eager(rng, padding, batch, assert_traced_matches_eager):
    """The issue's test: unknown batch and time inside ``tf.function`` must give eager's frame
    count and values (``TimeDistributed`` returned ``batch`` steps here, see below)."""
    layer = FramedFrontEnd(padding=padding, **FRONT_END_SMALL)
    layer.build((None, None))
    randomize(layer, rng)
    inputs = [rng.normal(size=(batch, n)).astype(np.float32) for n in PAPER_FRAME_LENGTHS]
    assert_traced_matches_eager(layer, inputs)
    for x, n in zip(inputs, PAPER_FRAME_LENGTHS):  # and the frame count is the number of complete frames
        assert layer(x).shape[1] == (n - 640) // 160 + 1


@pytest.mark.xfail(
    strict=False,
    raises=(AssertionError, tf.errors.InvalidArgumentError),
    reason=(
        "Keras 3.15.1 TimeDistributed, time axis unknown under tracing: vectorized_map runs over "
        "range(batch) instead of range(time) (it reads the shape before transposing), so traced "
        "code returns `batch` time steps (one for batch 1) or fails when batch > time; eager is right"
    ),
)
@pytest.mark.parametrize("batch", [1, 2])
def test_keras_time_distributed_traced_matches_eager(rng, batch, assert_traced_matches_eager):
    """Records the trap: the same check on ``TimeDistributed(Conv1D)`` over frames. Fails on
    Keras 3.15.1 (an unexpected pass means Keras fixed it)."""
    layer = keras.layers.TimeDistributed(keras.layers.Conv1D(3, 5, activation="relu"))
    layer.build((None, None, 40, 1))
    inputs = [rng.normal(size=(batch, frames, 40, 1)).astype(np.float32) for frames in (3, 7, 1)]
    assert_traced_matches_eager(layer, inputs)
