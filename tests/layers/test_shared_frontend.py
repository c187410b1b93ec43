"""SharedFrontEnd: the shared layer checks, feature size, traced == eager, and equality with
``FramedFrontEnd(padding="valid")`` holding the same weights."""

from __future__ import annotations

import numpy as np
import pytest
from harness import CHECKS, run_layer_test
from layer_helpers import FRONT_END_SMALL, FRONT_END_TINY, PAPER_FRAME_LENGTHS, randomize

from kerasser.model.layers import FramedFrontEnd, SharedFrontEnd


def twins(rng: np.random.Generator, **config) -> tuple[SharedFrontEnd, FramedFrontEnd]:
    """A shared and a 'valid' framed front end holding the same weights."""
    shared = SharedFrontEnd(**config)
    framed = FramedFrontEnd(padding="valid", **config)
    shared.build((None, None))
    framed.build((None, None))
    # the same sublayer layout: names and shapes line up one to one
    assert [(w.path.split("/", 1)[1], tuple(w.shape)) for w in shared.weights] == [
        (w.path.split("/", 1)[1], tuple(w.shape)) for w in framed.weights
    ]
    weights = shared.get_weights()
    # keep the initialised kernels, make the biases nonzero so they are compared too
    weights = [w if w.ndim > 1 else rng.normal(scale=0.1, size=w.shape).astype(np.float32) for w in weights]
    shared.set_weights(weights)
    framed.set_weights(weights)
    return shared, framed


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    waveform = rng.normal(size=(2, 7 * 10 + 40)).astype(np.float32)  # eight frames: three chunks
    init = dict(l2=1e-3, chunk_hops=3, name="frontend", **FRONT_END_TINY)
    run_layer_test(check, SharedFrontEnd, init, waveform)


def test_rejects_step_not_multiple_of_pool():
    with pytest.raises(ValueError, match="multiple of time_pool"):
        SharedFrontEnd(time_pool=3)


def test_paper_feature_size(rng):
    """1,044 features a frame, like the framed front end with 'valid' padding."""
    assert ((640 - 40 + 1) // 2 - 40 + 1) * 40 // 10 == 1044
    layer = SharedFrontEnd()
    assert layer.features == 1044 == FramedFrontEnd(padding="valid").features
    out = layer(rng.normal(size=(1, 800)).astype(np.float32))
    assert tuple(out.shape) == (1, 2, 1044)
    assert layer.compute_output_shape((1, 800)) == (1, None, 1044)


@pytest.mark.parametrize("batch", [1, 2])
def test_traced_matches_eager(rng, batch, assert_traced_matches_eager):
    layer = SharedFrontEnd(**FRONT_END_SMALL)
    layer.build((None, None))
    randomize(layer, rng)
    inputs = [rng.normal(size=(batch, n)).astype(np.float32) for n in PAPER_FRAME_LENGTHS]
    assert_traced_matches_eager(layer, inputs)
    for x, n in zip(inputs, PAPER_FRAME_LENGTHS):
        assert layer(x).shape[1] == (n - 640) // 160 + 1


def test_equals_framed_valid_paper_config(rng):
    """The equivalence the shared front end rests on, with the full default (paper) stack."""
    shared, framed = twins(rng)
    for n in (640, 1000, 2400, 4000):
        x = rng.normal(size=(2, n)).astype(np.float32)
        a, b = np.asarray(shared(x)), np.asarray(framed(x))
        assert a.shape == b.shape == (2, (n - 640) // 160 + 1, 1044)
        assert np.abs(b).max() > 0.1  # not trivially equal (all-zero ReLU outputs)
        assert np.abs(a - b).max() <= 1e-5


@pytest.mark.parametrize(
    "config",
    [
        FRONT_END_TINY,
        dict(FRONT_END_TINY, width=4, time_pool=5),  # even width, pool 5 (step 10 still a multiple)
        dict(FRONT_END_TINY, frame_length=37, frame_step=6, time_pool=3, width=3),  # odd frame length
    ],
)
def test_equals_framed_valid_small_configs(rng, config):
    shared, framed = twins(rng, **config)
    L, step = config["frame_length"], config["frame_step"]
    for n in (L, L + 1, L + 3 * step, L + 7 * step + step // 2):
        x = rng.normal(size=(2, n)).astype(np.float32)
        a, b = np.asarray(shared(x)), np.asarray(framed(x))
        assert a.shape == b.shape == (2, (n - L) // step + 1, framed.features)
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("chunk_hops", [1, 3, 16])
def test_chunk_size_does_not_change_results(rng, chunk_hops):
    """Chunking is a computation detail: any chunk size gives the whole-utterance convolution."""
    shared, framed = twins(rng)
    other = SharedFrontEnd(chunk_hops=chunk_hops)
    other.build((None, None))
    other.set_weights(shared.get_weights())
    for n in (640, 1000, 4000, 9000):
        x = rng.normal(size=(2, n)).astype(np.float32)
        np.testing.assert_allclose(np.asarray(other(x)), np.asarray(framed(x)), atol=1e-5)


def test_rejects_chunk_hops_below_one():
    with pytest.raises(ValueError, match="chunk_hops"):
        SharedFrontEnd(chunk_hops=0)
