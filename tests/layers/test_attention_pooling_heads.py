"""AttentionPooling's ``heads`` and ``statistics`` options: the shared layer checks, a NumPy
reference with masks, the returned attention, padding invariance, all-masked rows (float32 and
mixed_float16), and the paper's layer unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from harness import CHECKS, dtype_policy, run_layer_test
from layer_helpers import attention_reference, built_attention, junk_padded, prefix_mask, random_masks

from kerasser.model.layers import AttentionPooling


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("return_attention", [False, True])
def test_layer_checks(rng, check, return_attention):
    h = rng.normal(size=(3, 7, 4)).astype(np.float32)
    init = dict(return_attention=return_attention, heads=3, statistics=True, name="pool")
    run_layer_test(check, AttentionPooling, init, h, mask=random_masks(rng, 7))


@pytest.mark.parametrize("heads, statistics", [(3, True), (3, False), (1, True)])
def test_matches_numpy_reference_with_mask(rng, heads, statistics):
    units = 4
    h = rng.normal(size=(3, 7, units)).astype(np.float32)
    mask = random_masks(rng, 7)
    layer, w = built_attention(rng, units, heads=heads, statistics=statistics, return_attention=True)
    pooled, alpha = (np.asarray(t) for t in layer(h, mask=mask))
    pooled_ref, alpha_ref = attention_reference(h, w, mask, statistics)
    assert pooled.shape == (3, units * heads * (2 if statistics else 1))
    np.testing.assert_allclose(pooled, pooled_ref, atol=1e-5)
    np.testing.assert_allclose(alpha, alpha_ref, atol=1e-6)


def test_output_order_is_head_by_head_mean_then_std(rng):
    """With identical heads every head block is the same [mean, std] pair."""
    units = 3
    h = rng.normal(size=(2, 6, units)).astype(np.float32)
    mask = prefix_mask([6, 4], 6)
    layer = AttentionPooling(heads=2, statistics=True)
    layer.build((None, None, units))
    one = rng.normal(size=(units, 1)).astype(np.float32)
    layer.set_weights([np.concatenate([one, one], axis=1)])
    pooled = np.asarray(layer(h, mask=mask))
    paper = AttentionPooling()
    paper.build((None, None, units))
    paper.set_weights([one])
    mean = np.asarray(paper(h, mask=mask))
    np.testing.assert_allclose(pooled[:, :units], mean, atol=1e-6)  # head 0 mean
    np.testing.assert_allclose(pooled[:, 2 * units : 3 * units], mean, atol=1e-6)  # head 1 mean
    np.testing.assert_allclose(pooled[:, units : 2 * units], pooled[:, 3 * units :], atol=1e-6)  # the stds
    assert np.all(pooled[:, units : 2 * units] > 0)


def test_attention_is_the_heads_mean_and_a_distribution(rng):
    h = rng.normal(size=(3, 8, 4)).astype(np.float32)
    mask = random_masks(rng, 8)
    layer, w = built_attention(rng, 4, heads=3, statistics=True, return_attention=True)
    _, alpha = (np.asarray(t) for t in layer(h, mask=mask))
    assert alpha.shape == (3, 8)
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(alpha[~mask] == 0.0)  # exactly zero on padding
    assert np.all(alpha[mask] > 0.0)
    # the heads do differ: the mean is not just one head's weights
    _, alpha_ref = attention_reference(h, w, mask, True)
    per_head = h.astype(np.float64) @ w.astype(np.float64)
    assert not np.allclose(per_head[0, mask[0], 0], per_head[0, mask[0], 1])
    np.testing.assert_allclose(alpha, alpha_ref, atol=1e-6)


def test_padding_invariance(rng):
    """Appending masked steps holding random values changes neither the output nor the weights."""
    h = rng.normal(size=(3, 7, 4)).astype(np.float32)
    mask = random_masks(rng, 7)
    layer, _ = built_attention(rng, 4, heads=3, statistics=True, return_attention=True)
    h_long, mask_long = junk_padded(rng, h, mask, extra=4)
    pooled, alpha = (np.asarray(t) for t in layer(h, mask=mask))
    pooled_long, alpha_long = (np.asarray(t) for t in layer(h_long, mask=mask_long))
    np.testing.assert_allclose(pooled_long, pooled, atol=1e-5)
    np.testing.assert_allclose(alpha_long[:, :7], alpha, atol=1e-6)
    assert np.all(alpha_long[:, 7:] == 0.0)


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_all_masked_row(rng, policy):
    """No real step: the means are 0 and the stds the floor sqrt(1e-6); nothing is NaN, also in
    float16 (where -1e9 would be -inf)."""
    h = rng.normal(size=(2, 5, 3)).astype(np.float32)
    mask = prefix_mask([3, 0], 5)
    with dtype_policy(policy):
        layer, w = built_attention(rng, 3, heads=2, statistics=True, return_attention=True)
        pooled, alpha = (np.asarray(t) for t in layer(h, mask=mask))
    assert pooled.dtype == alpha.dtype == layer.compute_dtype
    assert np.all(np.isfinite(pooled)) and np.all(np.isfinite(alpha))
    assert np.all(alpha[1] == 0.0)
    blocks = pooled[1].reshape(2, 2, 3)  # [head, (mean, std), units]
    assert np.all(blocks[:, 0] == 0.0)
    np.testing.assert_allclose(blocks[:, 1], 1e-3, rtol=1e-5 if policy == "float32" else 1e-2)
    pooled_ref, _ = attention_reference(h, w, mask, True)
    np.testing.assert_allclose(pooled[0], pooled_ref[0], atol=1e-5 if policy == "float32" else 1e-2)


def test_one_head_without_statistics_is_the_papers_layer(rng):
    h = rng.normal(size=(3, 7, 5)).astype(np.float32)
    mask = random_masks(rng, 7)
    layer, w = built_attention(rng, 5, heads=1, statistics=False, return_attention=True)
    r, alpha = (np.asarray(t) for t in layer(h, mask=mask))
    # the paper: alpha = softmax(h w) over the real steps, r = sum alpha h
    h64 = h.astype(np.float64)
    scores = h64 @ w.astype(np.float64)[:, 0]
    for b in range(3):
        e = np.exp(scores[b, mask[b]] - scores[b, mask[b]].max())
        a = np.zeros(7)
        a[mask[b]] = e / e.sum()
        np.testing.assert_allclose(alpha[b], a, atol=1e-6)
        np.testing.assert_allclose(r[b], a @ h64[b], atol=1e-6)
    assert r.shape == (3, 5) and alpha.shape == (3, 7)
    assert [tuple(v.shape) for v in layer.trainable_weights] == [(5, 1)]
    # and the defaults are that layer
    default = AttentionPooling()
    assert default.heads == 1 and default.statistics is False


def test_weights_have_one_column_per_head():
    layer = AttentionPooling(heads=4, statistics=True)
    layer.build((None, None, 6))
    assert [tuple(v.shape) for v in layer.trainable_weights] == [(6, 4)]


def test_bad_heads_is_rejected():
    with pytest.raises(ValueError, match="heads"):
        AttentionPooling(heads=0)
