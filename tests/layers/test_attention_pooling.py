"""AttentionPooling: the shared layer checks, a NumPy reference with masks, padding invariance,
all-masked rows (float32 and mixed_float16), the regulariser, build."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from harness import CHECKS, dtype_policy, run_layer_test
from layer_helpers import attention_reference, built_attention, junk_padded, prefix_mask, random_masks

from kerasser.model.layers import AttentionPooling


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("return_attention", [False, True])
def test_layer_checks(rng, check, return_attention):
    h = rng.normal(size=(3, 7, 5)).astype(np.float32)
    init = dict(return_attention=return_attention, kernel_initializer="he_normal", name="pool")
    run_layer_test(check, AttentionPooling, init, h, mask=random_masks(rng, 7))


def test_kernel_regularizer_round_trip(rng):
    layer, w = built_attention(rng, 5, kernel_regularizer=keras.regularizers.L2(1e-3))
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
    layer, w = built_attention(rng, 5, return_attention=True)
    r, alpha = (np.asarray(t) for t in layer(h, mask=mask))
    r_ref, alpha_ref = attention_reference(h, w, mask)
    np.testing.assert_allclose(alpha, alpha_ref, atol=1e-6)
    np.testing.assert_allclose(r, r_ref, atol=1e-6)
    assert np.all(alpha[~mask] == 0.0)  # exactly zero, not just small
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(r[2], h[2, mask[2]][0], atol=1e-6)  # one real step: r is that step


def test_without_mask_is_softmax_over_all_steps(rng):
    h = rng.normal(size=(2, 4, 3)).astype(np.float32)
    layer, w = built_attention(rng, 3, return_attention=True)
    r, alpha = layer(h)
    r_ref, alpha_ref = attention_reference(h, w, np.ones((2, 4), bool))
    np.testing.assert_allclose(np.asarray(alpha), alpha_ref, atol=1e-6)
    np.testing.assert_allclose(np.asarray(r), r_ref, atol=1e-6)


def test_keras_mask_is_used(rng):
    """A mask propagated by Keras (here from ``Masking``) acts like the explicit ``mask``."""
    h = rng.normal(size=(2, 6, 3)).astype(np.float32)
    mask = prefix_mask([4, 2], 6)
    h[~mask] = 0.0  # what Masking(0) turns into mask=False
    layer, w = built_attention(rng, 3, return_attention=True)
    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, layer(keras.layers.Masking(0.0)(inputs)))
    r, alpha = (np.asarray(t) for t in model(h))
    r_ref, alpha_ref = attention_reference(h, w, mask)
    np.testing.assert_allclose(alpha, alpha_ref, atol=1e-6)
    np.testing.assert_allclose(r, r_ref, atol=1e-6)


def test_padding_invariance(rng):
    """Appending masked steps holding random values changes neither ``r`` nor the real weights."""
    h = rng.normal(size=(3, 7, 5)).astype(np.float32)
    mask = random_masks(rng, 7)
    layer, _ = built_attention(rng, 5, return_attention=True)
    h_long, mask_long = junk_padded(rng, h, mask, extra=4)
    r, alpha = (np.asarray(t) for t in layer(h, mask=mask))
    r_long, alpha_long = (np.asarray(t) for t in layer(h_long, mask=mask_long))
    np.testing.assert_allclose(r_long, r, atol=1e-6)
    np.testing.assert_allclose(alpha_long[:, :7], alpha, atol=1e-6)
    assert np.all(alpha_long[:, 7:] == 0.0)


@pytest.mark.parametrize("policy", ["float32", "mixed_float16"])
def test_all_masked_row_gives_zeros(rng, policy):
    """Also in float16, where -1e9 would be -inf and the row's weights NaN."""
    h = rng.normal(size=(2, 5, 4)).astype(np.float32)
    mask = prefix_mask([2, 0], 5)
    with dtype_policy(policy):
        layer, w = built_attention(rng, 4, return_attention=True)
        r, alpha = (np.asarray(t) for t in layer(h, mask=mask))
    assert r.dtype == alpha.dtype == layer.compute_dtype
    assert np.all(r[1] == 0.0) and np.all(alpha[1] == 0.0)
    assert np.all(np.isfinite(r)) and np.all(np.isfinite(alpha))
    r_ref, alpha_ref = attention_reference(h, w, mask)  # the other row is unaffected
    atol = 1e-6 if policy == "float32" else 1e-2
    np.testing.assert_allclose(r[0], r_ref[0], atol=atol)
    np.testing.assert_allclose(alpha[0], alpha_ref[0], atol=atol)


@pytest.mark.parametrize("return_attention", [False, True])
def test_output_carries_no_mask(return_attention):
    x = keras.Input((None, 5))
    m = keras.Input((None,), dtype="bool")
    out = AttentionPooling(return_attention=return_attention)(x, mask=m)
    assert all(getattr(t, "_keras_mask", None) is None for t in keras.tree.flatten(out))


def test_weights_created_in_build():
    layer = AttentionPooling()
    assert not layer.built and layer.weights == []
    layer.build((None, None, 6))
    assert layer.built
    assert [tuple(v.shape) for v in layer.trainable_weights] == [(6, 1)]
    assert layer.non_trainable_weights == []
