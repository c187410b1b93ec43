"""AttentionPooling: config round trips, a NumPy reference with masks, padding invariance, build."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasser.layers import AttentionPooling


def reference(h: np.ndarray, w: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``alpha = softmax(h w)`` over each row's real steps (0 elsewhere), ``r = sum alpha h``."""
    h64, w64 = h.astype(np.float64), w.astype(np.float64)
    scores = h64 @ w64[:, 0]  # [batch, time]
    alpha = np.zeros_like(scores)
    for b in range(h.shape[0]):
        real = mask[b]
        if real.any():
            e = np.exp(scores[b, real] - scores[b, real].max())
            alpha[b, real] = e / e.sum()
    return np.einsum("bt,btu->bu", alpha, h64), alpha


def random_masks(rng: np.random.Generator, time: int) -> np.ndarray:
    """Three rows: a random prefix, a random non-prefix pattern, a single real step."""
    prefix = np.arange(time) < rng.integers(2, time)
    # at least two real steps, the first step padding and the last one real: never a prefix
    inner = rng.choice(np.arange(1, time - 1), size=rng.integers(1, time - 2), replace=False)
    non_prefix = np.isin(np.arange(time), [*inner, time - 1])
    single = np.arange(time) == rng.integers(0, time)
    mask = np.stack([prefix, non_prefix, single])
    assert not np.array_equal(non_prefix, np.sort(non_prefix)[::-1])  # really not a prefix
    assert mask.sum(axis=1)[2] == 1
    return mask


def built_layer(rng: np.random.Generator, units: int, **kwargs) -> tuple[AttentionPooling, np.ndarray]:
    """A built layer with a random (not default-initialised) scoring vector."""
    layer = AttentionPooling(**kwargs)
    layer.build((None, None, units))
    w = rng.normal(size=(units, 1)).astype(np.float32)
    layer.set_weights([w])
    return layer, w


def test_config_round_trip():
    layer = AttentionPooling(return_attention=True, kernel_initializer="he_normal", name="pool")
    config = layer.get_config()
    restored = AttentionPooling.from_config(config)
    assert restored.get_config() == config
    assert restored.return_attention is True and restored.name == "pool"


def test_serialize_with_registered_name():
    layer = AttentionPooling(return_attention=True, name="pool")
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == "kerasser>AttentionPooling"
    assert keras.saving.get_registered_object("kerasser>AttentionPooling") is AttentionPooling
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is AttentionPooling
    assert restored.get_config() == layer.get_config()


def test_kernel_regularizer_round_trip(rng):
    layer, w = built_layer(rng, 5, kernel_regularizer=keras.regularizers.L2(1e-3))
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored.kernel_regularizer, keras.regularizers.L2)
    assert restored.kernel_regularizer.get_config() == layer.kernel_regularizer.get_config()
    assert restored.built  # serialisation carries the build config: restored with its weights' shapes
    restored.set_weights([w])
    expected = 1e-3 * np.sum(w.astype(np.float64) ** 2)
    for pool in (layer, restored):
        assert len(pool.losses) == 1
        np.testing.assert_allclose(float(pool.losses[0]), expected, rtol=1e-5)
    # and no regulariser stays no regulariser
    plain = AttentionPooling()
    assert AttentionPooling.from_config(plain.get_config()).kernel_regularizer is None


def test_matches_numpy_reference_with_mask(rng):
    h = rng.normal(size=(3, 7, 5)).astype(np.float32)
    mask = random_masks(rng, 7)
    layer, w = built_layer(rng, 5, return_attention=True)
    r, alpha = (np.asarray(t) for t in layer(h, mask=mask))
    r_ref, alpha_ref = reference(h, w, mask)
    np.testing.assert_allclose(alpha, alpha_ref, atol=1e-6)
    np.testing.assert_allclose(r, r_ref, atol=1e-6)
    assert np.all(alpha[~mask] == 0.0)  # exactly zero, not just small
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(r[2], h[2, mask[2]][0], atol=1e-6)  # one real step: r is that step


def test_without_mask_is_softmax_over_all_steps(rng):
    h = rng.normal(size=(2, 4, 3)).astype(np.float32)
    layer, w = built_layer(rng, 3, return_attention=True)
    r, alpha = layer(h)
    r_ref, alpha_ref = reference(h, w, np.ones((2, 4), bool))
    np.testing.assert_allclose(np.asarray(alpha), alpha_ref, atol=1e-6)
    np.testing.assert_allclose(np.asarray(r), r_ref, atol=1e-6)


def test_keras_mask_is_used(rng):
    """A mask propagated by Keras (here from ``Masking``) acts like the explicit ``mask``."""
    h = rng.normal(size=(2, 6, 3)).astype(np.float32)
    mask = np.arange(6)[None] < np.array([[4], [2]])
    h[~mask] = 0.0  # what Masking(0) turns into mask=False
    layer, w = built_layer(rng, 3, return_attention=True)
    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, layer(keras.layers.Masking(0.0)(inputs)))
    r, alpha = (np.asarray(t) for t in model(h))
    r_ref, alpha_ref = reference(h, w, mask)
    np.testing.assert_allclose(alpha, alpha_ref, atol=1e-6)
    np.testing.assert_allclose(r, r_ref, atol=1e-6)


def test_padding_invariance(rng):
    """Appending masked steps holding random values changes neither ``r`` nor the real weights."""
    h = rng.normal(size=(3, 7, 5)).astype(np.float32)
    mask = random_masks(rng, 7)
    layer, _ = built_layer(rng, 5, return_attention=True)
    extra = 4
    junk = rng.normal(scale=100.0, size=(3, extra, 5)).astype(np.float32)
    h_long = np.concatenate([h, junk], axis=1)
    mask_long = np.concatenate([mask, np.zeros((3, extra), bool)], axis=1)
    # also put junk into the masked steps inside the original length
    h_long[:, :7][~mask] = rng.normal(scale=100.0, size=(int((~mask).sum()), 5))
    r, alpha = (np.asarray(t) for t in layer(h, mask=mask))
    r_long, alpha_long = (np.asarray(t) for t in layer(h_long, mask=mask_long))
    np.testing.assert_allclose(r_long, r, atol=1e-6)
    np.testing.assert_allclose(alpha_long[:, :7], alpha, atol=1e-6)
    assert np.all(alpha_long[:, 7:] == 0.0)


def test_all_masked_row_gives_zeros(rng):
    h = rng.normal(size=(2, 5, 4)).astype(np.float32)
    mask = np.array([[True, True, False, False, False], [False] * 5])
    layer, w = built_layer(rng, 4, return_attention=True)
    r, alpha = (np.asarray(t) for t in layer(h, mask=mask))
    assert np.all(r[1] == 0.0) and np.all(alpha[1] == 0.0)
    assert np.all(np.isfinite(r)) and np.all(np.isfinite(alpha))
    r_ref, alpha_ref = reference(h, w, mask)  # the other row is unaffected
    np.testing.assert_allclose(r[0], r_ref[0], atol=1e-6)
    np.testing.assert_allclose(alpha[0], alpha_ref[0], atol=1e-6)


@pytest.mark.parametrize("return_attention", [False, True])
def test_output_structure(rng, return_attention):
    h = rng.normal(size=(3, 7, 5)).astype(np.float32)
    mask = random_masks(rng, 7)
    layer, _ = built_layer(rng, 5, return_attention=return_attention)
    out = layer(h, mask=mask)
    expected_shape = layer.compute_output_shape((3, 7, 5))
    if return_attention:
        assert isinstance(out, tuple) and len(out) == 2
        assert tuple(out[0].shape) == (3, 5) and tuple(out[1].shape) == (3, 7)
        assert expected_shape == ((3, 5), (3, 7))
    else:
        assert tuple(out.shape) == (3, 5)
        assert expected_shape == (3, 5)
    # symbolic: the same structure, and no mask carried past the pooling
    x = keras.Input((None, 5))
    m = keras.Input((None,), dtype="bool")
    sym = AttentionPooling(return_attention=return_attention)(x, mask=m)
    if return_attention:
        assert isinstance(sym, tuple) and len(sym) == 2
        assert tuple(sym[0].shape) == (None, 5) and tuple(sym[1].shape) == (None, None)
        assert all(getattr(t, "_keras_mask", None) is None for t in sym)
    else:
        assert tuple(sym.shape) == (None, 5)
        assert getattr(sym, "_keras_mask", None) is None


def test_weights_created_in_build():
    layer = AttentionPooling()
    assert not layer.built and layer.weights == []
    layer.build((None, None, 6))
    assert layer.built
    assert [tuple(v.shape) for v in layer.trainable_weights] == [(6, 1)]
    assert layer.non_trainable_weights == []
