"""AttentionPooling's ``heads`` and ``statistics`` options: a NumPy reference with masks, the
returned attention, padding invariance, config round trips, and the paper's layer unchanged."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasser.layers import AttentionPooling


def reference(h: np.ndarray, w: np.ndarray, mask: np.ndarray, statistics: bool):
    """Per head k: ``alpha_k = softmax(h w[:, k])`` over each row's valid steps (0 elsewhere),
    ``mean_k = sum alpha_k h``, ``std_k = sqrt(max(sum alpha_k h^2 - mean_k^2, 0) + 1e-6)``;
    output ``[mean_0, std_0, mean_1, std_1, ...]`` (or ``[mean_0, mean_1, ...]``), and the
    heads' mean attention [batch, time]."""
    h64, w64 = h.astype(np.float64), w.astype(np.float64)
    batch, _, _ = h.shape
    heads = w.shape[1]
    scores = h64 @ w64  # [batch, time, heads]
    alpha = np.zeros_like(scores)
    for b in range(batch):
        real = mask[b]
        if real.any():
            s = scores[b, real]
            e = np.exp(s - s.max(axis=0))
            alpha[b, real] = e / e.sum(axis=0)
    parts = []
    for k in range(heads):
        a = alpha[:, :, k : k + 1]
        mean = (a * h64).sum(axis=1)
        parts.append(mean)
        if statistics:
            second = (a * h64**2).sum(axis=1)
            parts.append(np.sqrt(np.maximum(second - mean**2, 0.0) + 1e-6))
    return np.concatenate(parts, axis=-1), alpha.mean(axis=-1)


def random_masks(rng: np.random.Generator, time: int) -> np.ndarray:
    """Three rows: a random prefix, a non-prefix pattern, a single real step."""
    prefix = np.arange(time) < rng.integers(2, time)
    non_prefix = np.isin(np.arange(time), [1, 3, 4, time - 1])
    single = np.arange(time) == rng.integers(0, time)
    return np.stack([prefix, non_prefix, single])


def built_layer(rng: np.random.Generator, units: int, **kwargs) -> tuple[AttentionPooling, np.ndarray]:
    """A built layer with random (not default-initialised) scoring vectors."""
    layer = AttentionPooling(**kwargs)
    layer.build((None, None, units))
    w = rng.normal(size=(units, layer.heads)).astype(np.float32)
    layer.set_weights([w])
    return layer, w


@pytest.mark.parametrize("heads, statistics", [(3, True), (3, False), (1, True)])
def test_matches_numpy_reference_with_mask(rng, heads, statistics):
    units = 4
    h = rng.normal(size=(3, 7, units)).astype(np.float32)
    mask = random_masks(rng, 7)
    layer, w = built_layer(rng, units, heads=heads, statistics=statistics, return_attention=True)
    pooled, alpha = (np.asarray(t) for t in layer(h, mask=mask))
    pooled_ref, alpha_ref = reference(h, w, mask, statistics)
    assert pooled.shape == (3, units * heads * (2 if statistics else 1))
    np.testing.assert_allclose(pooled, pooled_ref, atol=1e-5)
    np.testing.assert_allclose(alpha, alpha_ref, atol=1e-6)


def test_output_order_is_head_by_head_mean_then_std(rng):
    """With identical heads every head block is the same [mean, std] pair."""
    units = 3
    h = rng.normal(size=(2, 6, units)).astype(np.float32)
    mask = np.arange(6)[None] < np.array([[6], [4]])
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
    layer, w = built_layer(rng, 4, heads=3, statistics=True, return_attention=True)
    _, alpha = (np.asarray(t) for t in layer(h, mask=mask))
    assert alpha.shape == (3, 8)
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(alpha[~mask] == 0.0)  # exactly zero on padding
    assert np.all(alpha[mask] > 0.0)
    # the heads do differ: the mean is not just one head's weights
    _, alpha_ref = reference(h, w, mask, True)
    per_head = h.astype(np.float64) @ w.astype(np.float64)
    assert not np.allclose(per_head[0, mask[0], 0], per_head[0, mask[0], 1])
    np.testing.assert_allclose(alpha, alpha_ref, atol=1e-6)


def test_padding_invariance(rng):
    """Appending masked steps holding random values changes neither the output nor the weights."""
    h = rng.normal(size=(3, 7, 4)).astype(np.float32)
    mask = random_masks(rng, 7)
    layer, _ = built_layer(rng, 4, heads=3, statistics=True, return_attention=True)
    extra = 4
    h_long = np.concatenate([h, rng.normal(scale=100.0, size=(3, extra, 4)).astype(np.float32)], axis=1)
    h_long[:, :7][~mask] = rng.normal(scale=100.0, size=(int((~mask).sum()), 4))
    mask_long = np.concatenate([mask, np.zeros((3, extra), bool)], axis=1)
    pooled, alpha = (np.asarray(t) for t in layer(h, mask=mask))
    pooled_long, alpha_long = (np.asarray(t) for t in layer(h_long, mask=mask_long))
    np.testing.assert_allclose(pooled_long, pooled, atol=1e-5)
    np.testing.assert_allclose(alpha_long[:, :7], alpha, atol=1e-6)
    assert np.all(alpha_long[:, 7:] == 0.0)


def test_all_masked_row(rng):
    """No real step: the means are 0 and the stds the floor sqrt(1e-6); nothing is NaN."""
    h = rng.normal(size=(2, 5, 3)).astype(np.float32)
    mask = np.array([[True, True, True, False, False], [False] * 5])
    layer, w = built_layer(rng, 3, heads=2, statistics=True, return_attention=True)
    pooled, alpha = (np.asarray(t) for t in layer(h, mask=mask))
    assert np.all(np.isfinite(pooled)) and np.all(np.isfinite(alpha))
    assert np.all(alpha[1] == 0.0)
    blocks = pooled[1].reshape(2, 2, 3)  # [head, (mean, std), units]
    assert np.all(blocks[:, 0] == 0.0)
    np.testing.assert_allclose(blocks[:, 1], 1e-3, rtol=1e-5)
    pooled_ref, _ = reference(h, w, mask, True)
    np.testing.assert_allclose(pooled[0], pooled_ref[0], atol=1e-5)


def test_one_head_without_statistics_is_the_papers_layer(rng):
    h = rng.normal(size=(3, 7, 5)).astype(np.float32)
    mask = random_masks(rng, 7)
    layer, w = built_layer(rng, 5, heads=1, statistics=False, return_attention=True)
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


@pytest.mark.parametrize("return_attention", [False, True])
def test_output_shapes(rng, return_attention):
    layer, _ = built_layer(rng, 4, heads=3, statistics=True, return_attention=return_attention)
    h = rng.normal(size=(2, 6, 4)).astype(np.float32)
    out = layer(h)
    expected = layer.compute_output_shape((2, 6, 4))
    if return_attention:
        assert expected == ((2, 24), (2, 6))
        assert tuple(out[0].shape) == (2, 24) and tuple(out[1].shape) == (2, 6)
    else:
        assert expected == (2, 24)
        assert tuple(out.shape) == (2, 24)
    symbolic_layer = AttentionPooling(heads=3, statistics=True, return_attention=return_attention)
    sym = symbolic_layer(keras.Input((None, 4)))
    sym_pooled = sym[0] if return_attention else sym
    assert tuple(sym_pooled.shape) == (None, 24)


def test_weights_have_one_column_per_head():
    layer = AttentionPooling(heads=4, statistics=True)
    layer.build((None, None, 6))
    assert [tuple(v.shape) for v in layer.trainable_weights] == [(6, 4)]


def test_config_round_trip():
    layer = AttentionPooling(return_attention=True, heads=3, statistics=True, name="pool")
    config = layer.get_config()
    assert config["heads"] == 3 and config["statistics"] is True
    restored = AttentionPooling.from_config(config)
    assert restored.get_config() == config
    assert restored.heads == 3 and restored.statistics is True and restored.return_attention is True


def test_serialize_with_registered_name(rng):
    layer, w = built_layer(rng, 4, heads=2, statistics=True, name="pool")
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == "kerasser>AttentionPooling"
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is AttentionPooling
    assert restored.get_config() == layer.get_config()
    assert restored.built
    restored.set_weights([w])
    h = rng.normal(size=(2, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(restored(h)), np.asarray(layer(h)), atol=1e-6)


def test_bad_heads_is_rejected():
    with pytest.raises(ValueError, match="heads"):
        AttentionPooling(heads=0)
