"""SpecAugment: the shared layer checks (in training), identity at inference, the shape of the
masks in training, seeding, no masks, the Keras mask, tracing with an unknown time axis."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from harness import CHECKS, run_layer_test

from kerasser.model.layers import SpecAugment


def positive_features(rng: np.random.Generator, shape) -> np.ndarray:
    """Features that are never 0, so every 0 in the output comes from a mask."""
    return rng.uniform(1.0, 2.0, size=shape).astype(np.float32)


def runs(zero: np.ndarray) -> list[tuple[int, int]]:
    """(start, width) of each run of True in a 1-D bool array."""
    padded = np.concatenate([[False], zero, [False]]).astype(int)
    edges = np.diff(padded)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(s), int(e - s)) for s, e in zip(starts, ends)]


def split_masks(x: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The masked frames [batch, time] and bands [batch, features] of ``out``; checks that each
    element is either kept as it was or zeroed because its frame or its band is masked."""
    zero = out == 0.0
    assert np.all(out[~zero] == x[~zero])  # kept elements are untouched
    frames = zero.all(axis=2)
    bands = zero.all(axis=1)
    np.testing.assert_array_equal(zero, frames[:, :, None] | bands[:, None, :])
    return frames, bands


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    x = positive_features(rng, (3, 20, 8))
    init = dict(time_masks=3, max_time_width=7, freq_masks=1, max_freq_width=4, seed=11, name="aug")
    run_layer_test(
        check, SpecAugment, init, x, call_kwargs=dict(training=True), skip={"gradient": "no weights"}
    )


def test_identity_at_inference(rng):
    x = positive_features(rng, (3, 20, 8))
    layer = SpecAugment(time_masks=2, max_time_width=10, freq_masks=2, max_freq_width=4, seed=0)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)


def test_single_masks_are_contiguous_spans_within_max_width(rng):
    x = positive_features(rng, (16, 30, 12))
    layer = SpecAugment(time_masks=1, max_time_width=6, freq_masks=1, max_freq_width=4, seed=1)
    out = np.asarray(layer(x, training=True))
    frames, bands = split_masks(x, out)
    for b in range(x.shape[0]):
        time_runs, freq_runs = runs(frames[b]), runs(bands[b])
        assert len(time_runs) <= 1 and len(freq_runs) <= 1
        assert all(1 <= w <= 6 for _, w in time_runs)
        assert all(1 <= w <= 4 for _, w in freq_runs)
    # the masks are drawn per utterance: most rows are masked, and not all in the same place
    assert frames.any(axis=1).sum() >= 8 and bands.any(axis=1).sum() >= 8
    assert len({tuple(np.flatnonzero(f)) for f in frames}) > 2
    assert len({tuple(np.flatnonzero(f)) for f in bands}) > 2


def test_several_masks_stay_within_their_budget(rng):
    x = positive_features(rng, (16, 40, 16))
    layer = SpecAugment(time_masks=2, max_time_width=5, freq_masks=3, max_freq_width=2, seed=2)
    out = np.asarray(layer(x, training=True))
    frames, bands = split_masks(x, out)
    for b in range(x.shape[0]):
        # overlapping or touching spans merge, so: at most one run per mask, each at most the
        # masks' total width, and at most that many zeroed frames / bands in all
        for zero, masks, width in ((frames[b], 2, 5), (bands[b], 3, 2)):
            found = runs(zero)
            assert len(found) <= masks
            assert all(w <= masks * width for _, w in found)
            assert zero.sum() <= masks * width
    assert frames.any() and bands.any()


def test_same_seed_same_masks_other_seed_other_masks(rng):
    x = positive_features(rng, (8, 30, 12))
    kwargs = dict(time_masks=2, max_time_width=6, freq_masks=2, max_freq_width=3)
    first = np.asarray(SpecAugment(**kwargs, seed=7)(x, training=True))
    again = np.asarray(SpecAugment(**kwargs, seed=7)(x, training=True))
    other = np.asarray(SpecAugment(**kwargs, seed=8)(x, training=True))
    assert np.any(first == 0.0)  # something was masked
    np.testing.assert_array_equal(again, first)
    assert not np.array_equal(other, first)


def test_successive_calls_draw_new_masks(rng):
    x = positive_features(rng, (8, 30, 12))
    layer = SpecAugment(time_masks=2, max_time_width=6, freq_masks=2, max_freq_width=3, seed=7)
    first = np.asarray(layer(x, training=True))
    second = np.asarray(layer(x, training=True))
    assert not np.array_equal(first, second)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(time_masks=0, freq_masks=0),
        dict(time_masks=2, max_time_width=0, freq_masks=2, max_freq_width=0),
    ],
)
def test_no_masks_is_identity_in_training(rng, kwargs):
    x = positive_features(rng, (4, 20, 8))
    out = np.asarray(SpecAugment(**kwargs, seed=3)(x, training=True))
    np.testing.assert_array_equal(out, x)


def test_time_masks_only(rng):
    x = positive_features(rng, (8, 20, 6))
    out = np.asarray(SpecAugment(time_masks=2, max_time_width=5, freq_masks=0, seed=4)(x, training=True))
    frames, bands = split_masks(x, out)
    assert frames.any() and not bands.any()


def test_keras_mask_is_passed_on(rng):
    inputs = keras.Input((None, 4))
    masked = keras.layers.Masking(0.0)(inputs)
    out = SpecAugment(seed=0)(masked)
    assert out._keras_mask is not None
    mask = np.array([[True, True, False]])
    np.testing.assert_array_equal(np.asarray(SpecAugment().compute_mask(np.ones((1, 3, 4)), mask)), mask)


def test_training_under_tracing_with_unknown_time(rng):
    layer = SpecAugment(time_masks=1, max_time_width=4, freq_masks=1, max_freq_width=3, seed=9)
    spec = tf.TensorSpec([None, None, 6], tf.float32)
    traced = tf.function(lambda x: layer(x, training=True), input_signature=[spec])
    for time in (5, 17):
        x = positive_features(rng, (8, time, 6))
        out = np.asarray(traced(x))
        assert out.shape == x.shape
        frames, bands = split_masks(x, out)
        assert all(w <= 4 for f in frames for _, w in runs(f))
        assert all(w <= 3 for f in bands for _, w in runs(f))
        assert frames.any() and bands.any()
    assert traced.experimental_get_tracing_count() == 1
