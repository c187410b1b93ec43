"""ReferenceNormalization: the shared layer checks, a NumPy reference with masks, equality with
sentence mean normalisation when the reference is the utterance's own mean, padding invariance."""

from __future__ import annotations

import numpy as np
import pytest
from harness import CHECKS, run_layer_test
from layer_helpers import random_masks

from kerasser.model.layers import ReferenceNormalization, UtteranceNormalization


def reference_output(x: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each valid frame minus its row's reference; padded frames 0."""
    return np.where(mask[..., None], x.astype(np.float64) - ref[:, None, :], 0.0)


def features_and_references(rng, shape):
    x = (rng.normal(scale=5.0, size=shape[-1]) + rng.normal(size=shape)).astype(np.float32)
    return x, rng.normal(scale=5.0, size=(shape[0], shape[-1])).astype(np.float32)


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    x, ref = features_and_references(rng, (3, 9, 4))
    run_layer_test(
        check, ReferenceNormalization, {"name": "speaker_norm"}, [x, ref],
        mask=random_masks(rng, 9), skip={"gradient": "no weights"},
    )


def test_matches_numpy_reference_with_mask(rng):
    x, ref = features_and_references(rng, (3, 9, 4))
    mask = random_masks(rng, 9)
    out = np.asarray(ReferenceNormalization()([x, ref], mask=mask))
    np.testing.assert_allclose(out, reference_output(x, ref, mask), atol=1e-5)
    assert np.all(out[~mask] == 0.0)


def test_without_mask_every_frame_is_shifted(rng):
    x, ref = features_and_references(rng, (2, 5, 3))
    out = np.asarray(ReferenceNormalization()([x, ref]))
    np.testing.assert_allclose(out, reference_output(x, ref, np.ones((2, 5), bool)), atol=1e-5)


def test_own_mean_as_reference_is_sentence_mean_normalisation(rng):
    x, _ = features_and_references(rng, (3, 9, 4))
    mask = random_masks(rng, 9)
    own = np.stack([x[b, mask[b]].mean(axis=0) if mask[b].any() else np.zeros(4) for b in range(3)]).astype(np.float32)
    np.testing.assert_allclose(
        np.asarray(ReferenceNormalization()([x, own], mask=mask)),
        np.asarray(UtteranceNormalization("mean")(x, mask=mask)), atol=1e-5,
    )


def test_padding_invariance(rng):
    """Frames appended after the valid ones, masked, change no valid frame."""
    x, ref = features_and_references(rng, (3, 7, 4))
    mask = random_masks(rng, 7)
    longer = np.concatenate([x, rng.normal(size=(3, 5, 4)).astype(np.float32) * 100], axis=1)
    longer_mask = np.concatenate([mask, np.zeros((3, 5), bool)], axis=1)
    layer = ReferenceNormalization()
    np.testing.assert_array_equal(np.asarray(layer([longer, ref], mask=longer_mask))[:, :7],
                                  np.asarray(layer([x, ref], mask=mask)))
