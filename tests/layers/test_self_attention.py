"""SelfAttention: the shared layer checks, a NumPy reference with masks, padding invariance,
a row with no real step, dropout only in training."""

from __future__ import annotations

import numpy as np
import pytest
from harness import CHECKS, run_layer_test
from layer_helpers import junk_padded, np_attend, np_layer_norm, random_masks, randomize

from kerasser.model.layers import SelfAttention


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    x = rng.normal(size=(3, 7, 8)).astype(np.float32)
    init = dict(heads=2, ffn_units=12, dropout=0.1, seed=1, kernel_initializer="he_normal", name="self_attention")
    run_layer_test(check, SelfAttention, init, x, mask=random_masks(rng, 7))


def reference(layer: SelfAttention, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The layer's formula (its docstring) in float64, row by row."""
    w = {v.path.split("/")[-1]: np.asarray(v, np.float64) for v in layer.weights}
    out = np.zeros(x.shape)
    for b in range(x.shape[0]):
        h = x[b].astype(np.float64)
        n = np_layer_norm(h, w["norm1_gamma"], w["norm1_beta"])
        y = h + np_attend(n @ w["query"], n @ w["key"], n @ w["value"], mask[b], layer.heads) @ w["output"] + w["output_bias"]
        n = np_layer_norm(y, w["norm2_gamma"], w["norm2_beta"])
        z = y + np.maximum(n @ w["hidden"] + w["hidden_bias"], 0.0) @ w["ffn"] + w["ffn_bias"]
        out[b] = z * mask[b][:, None]
    return out


def built(rng, units=8, **kwargs) -> SelfAttention:
    layer = SelfAttention(**kwargs)
    layer.build((None, None, units))
    randomize(layer, rng)
    return layer


def test_matches_numpy_reference_with_mask(rng):
    x = rng.normal(size=(3, 7, 8)).astype(np.float32)
    mask = random_masks(rng, 7)
    layer = built(rng, heads=2)
    got = np.asarray(layer(x, mask=mask))
    np.testing.assert_allclose(got, reference(layer, x, mask), atol=1e-4)
    assert np.all(got[~mask] == 0.0)


def test_padding_invariance(rng):
    """Appended masked steps holding large random values change no real step's output."""
    x = rng.normal(size=(3, 7, 8)).astype(np.float32)
    mask = random_masks(rng, 7)
    layer = built(rng, heads=4)
    x_long, mask_long = junk_padded(rng, x, mask, extra=5)
    np.testing.assert_allclose(np.asarray(layer(x_long, mask=mask_long))[:, :7], np.asarray(layer(x, mask=mask)),
                               atol=1e-5)


def test_row_without_real_step_is_zero(rng):
    x = rng.normal(size=(2, 5, 8)).astype(np.float32)
    mask = np.array([[True] * 5, [False] * 5])
    got = np.asarray(built(rng, heads=2)(x, mask=mask))
    assert np.all(got[1] == 0.0) and np.all(np.isfinite(got))


def test_dropout_only_in_training(rng):
    x = rng.normal(size=(2, 6, 8)).astype(np.float32)
    layer = built(rng, heads=2, dropout=0.5, seed=0)
    np.testing.assert_array_equal(np.asarray(layer(x)), np.asarray(layer(x)))
    assert not np.allclose(np.asarray(layer(x, training=True)), np.asarray(layer(x)))


def test_units_must_split_into_heads():
    with pytest.raises(ValueError, match="heads"):
        SelfAttention(heads=3).build((None, None, 8))
