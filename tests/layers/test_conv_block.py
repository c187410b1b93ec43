"""ConvBlock: the shared layer checks, a NumPy reference (inference and training) with masks,
padding invariance, the Keras mask, weights and losses."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from harness import CHECKS, run_layer_test
from layer_helpers import junk_padded, np_conv1d, prefix_mask, random_masks

from kerasser.model.layers import ConvBlock

# --- NumPy reference ---------------------------------------------------------------------------


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def reference(block: ConvBlock, x: np.ndarray, mask: np.ndarray, batch_statistics: bool = False):
    """The block's output from its own weights, in float64. ``batch_statistics``: batch norm
    with the mean and (biased) variance over the valid frames of the whole batch (training);
    otherwise with the moving statistics (inference)."""
    f64 = lambda v: np.asarray(v, np.float64)  # noqa: E731
    kernel = f64(block.conv.kernel)
    gamma, beta = f64(block.norm.gamma), f64(block.norm.beta)
    eps = block.norm.epsilon
    weight = mask.astype(np.float64)[:, :, None]
    xm = f64(x) * weight
    conv = np.stack([np_conv1d(xm[b], kernel, "same", block.dilation_rate) for b in range(x.shape[0])])
    if batch_statistics:
        valid = conv[mask]  # [valid frames, filters]
        mean, var = valid.mean(axis=0), valid.var(axis=0)
    else:
        mean, var = f64(block.norm.moving_mean), f64(block.norm.moving_variance)
    y = np.maximum((conv - mean) / np.sqrt(var + eps) * gamma + beta, 0.0)
    if block.squeeze_excitation:
        count = np.maximum(weight.sum(axis=1), 1.0)  # [batch, 1]
        m = (y * weight).sum(axis=1) / count  # [batch, filters]
        hidden = np.maximum(m @ f64(block.squeeze.kernel) + f64(block.squeeze.bias), 0.0)
        gate = sigmoid(hidden @ f64(block.excite.kernel) + f64(block.excite.bias))
        y = y * gate[:, None, :]
    if block.residual:
        if block.shortcut is not None:
            y = y + xm @ f64(block.shortcut.kernel)[0]
        else:
            y = y + xm
    return y * weight


def built_block(rng: np.random.Generator, channels: int, **kwargs) -> ConvBlock:
    """A built block with random weights everywhere, batch-norm moving statistics included."""
    block = ConvBlock(**kwargs)
    block.build((None, None, channels))
    parts = (block.conv, block.shortcut, getattr(block, "squeeze", None), getattr(block, "excite", None))
    for layer in parts:
        if layer is not None:
            weights = [rng.normal(scale=0.5, size=w.shape).astype(np.float32) for w in layer.get_weights()]
            layer.set_weights(weights)
    filters = block.filters
    block.norm.set_weights(
        [
            rng.uniform(0.5, 1.5, filters).astype(np.float32),  # gamma
            rng.normal(scale=0.3, size=filters).astype(np.float32),  # beta
            rng.normal(scale=0.5, size=filters).astype(np.float32),  # moving mean
            rng.uniform(0.3, 3.0, filters).astype(np.float32),  # moving variance
        ]
    )
    return block


SE = dict(kernel_size=3, dilation_rate=2, residual=True, squeeze_excitation=2)

# --- the shared layer checks ---------------------------------------------------------------------


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    """In training mode: batch statistics over the valid frames, also for a row with none. Four
    squeeze units: with two, both ReLUs can start dead on every row and get no gradient."""
    x = rng.normal(size=(3, 9, 4)).astype(np.float32)
    init = dict(filters=6, kernel_size=3, dilation_rate=2, squeeze_excitation=4, l2=1e-4, name="blk")
    run_layer_test(check, ConvBlock, init, x, mask=random_masks(rng, 9), call_kwargs=dict(training=True))


# --- values -------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels, filters", [(4, 4), (4, 6)], ids=["identity-shortcut", "conv-shortcut"])
def test_matches_numpy_reference_at_inference(rng, channels, filters):
    block = built_block(rng, channels, filters=filters, **SE)
    assert (block.shortcut is None) == (channels == filters)
    x = rng.normal(size=(3, 9, channels)).astype(np.float32)
    mask = random_masks(rng, 9)
    out = np.asarray(block(x, mask=mask, training=False))
    assert out.shape == (3, 9, filters)
    np.testing.assert_allclose(out, reference(block, x, mask), atol=1e-5)
    assert np.all(out[~mask] == 0.0)  # padded frames exactly 0


@pytest.mark.parametrize("residual, squeeze_excitation", [(False, 0), (True, 0), (False, 3)])
def test_other_options_match_numpy_reference(rng, residual, squeeze_excitation):
    block = built_block(rng, 3, filters=5, kernel_size=5, dilation_rate=1, residual=residual,
                        squeeze_excitation=squeeze_excitation)
    assert block.shortcut is None or residual
    x = rng.normal(size=(3, 8, 3)).astype(np.float32)
    mask = random_masks(rng, 8)
    out = np.asarray(block(x, mask=mask))
    np.testing.assert_allclose(out, reference(block, x, mask), atol=1e-5)


def test_without_mask_uses_every_frame(rng):
    block = built_block(rng, 4, filters=4, **SE)
    x = rng.normal(size=(2, 6, 4)).astype(np.float32)
    out = np.asarray(block(x))
    np.testing.assert_allclose(out, reference(block, x, np.ones((2, 6), bool)), atol=1e-5)


def test_training_uses_batch_statistics_of_the_valid_frames(rng):
    block = built_block(rng, 4, filters=6, **SE)
    x = rng.normal(size=(3, 9, 4)).astype(np.float32)
    mask = random_masks(rng, 9)
    out = np.asarray(block(x, mask=mask, training=True))
    np.testing.assert_allclose(out, reference(block, x, mask, batch_statistics=True), atol=1e-4)
    assert np.all(out[~mask] == 0.0)


@pytest.mark.parametrize("training", [False, True])
def test_padding_invariance(rng, training):
    """Garbage frames appended and masked (and in the masked tails) change no valid frame."""
    block = built_block(rng, 4, filters=6, **SE)
    lengths = np.array([9, 5, 3])
    x = rng.normal(size=(3, 9, 4)).astype(np.float32)
    mask = prefix_mask(lengths, 9)
    x[~mask] = 0.0
    x_long, mask_long = junk_padded(rng, x, mask, extra=4)
    out = np.asarray(block(x, mask=mask, training=training))
    out_long = np.asarray(block(x_long, mask=mask_long, training=training))
    np.testing.assert_allclose(out_long[:, :9], out, atol=1e-5)
    assert np.all(out_long[~mask_long] == 0.0)
    # and each row equals that row alone, cut to its length, without a mask (inference only:
    # in training the batch statistics depend on the other rows)
    if not training:
        for b, n in enumerate(lengths):
            alone = np.asarray(block(x[b : b + 1, :n], training=False))
            np.testing.assert_allclose(out[b, :n], alone[0], atol=1e-5)


def test_keras_mask_is_used_and_passed_on(rng):
    block = built_block(rng, 3, filters=3, **SE)
    x = rng.normal(size=(2, 6, 3)).astype(np.float32)
    mask = prefix_mask([4, 2], 6)
    x[~mask] = 0.0  # what Masking(0) turns into mask=False
    inputs = keras.Input((None, 3))
    y = block(keras.layers.Masking(0.0)(inputs))
    assert y._keras_mask is not None
    model = keras.Model(inputs, y)
    np.testing.assert_allclose(np.asarray(model(x)), reference(block, x, mask), atol=1e-5)


def test_weights_and_losses():
    block = ConvBlock(filters=6, kernel_size=3, squeeze_excitation=2, l2=1e-3)
    block.build((None, None, 4))
    shapes = {w.path.split("/", 1)[1]: tuple(w.shape) for w in block.weights}
    assert shapes == {
        "conv/kernel": (3, 4, 6),
        "norm/gamma": (6,), "norm/beta": (6,), "norm/moving_mean": (6,), "norm/moving_variance": (6,),
        "squeeze/kernel": (6, 2), "squeeze/bias": (2,),
        "excite/kernel": (2, 6), "excite/bias": (6,),
        "shortcut/kernel": (1, 4, 6),
    }
    assert len(block.losses) == 4  # L2 on the convolution, both dense kernels and the 1x1 shortcut
