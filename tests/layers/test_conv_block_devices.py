"""ConvBlock's options for devices: ``separable`` (depthwise then 1x1) and ``causal`` (left padding
only) against a NumPy reference, the shared layer checks, and ``step``: the causal block run chunk
by chunk with its history as state gives the offline outputs."""

from __future__ import annotations

import numpy as np
import pytest
from harness import CHECKS, run_layer_test
from layer_helpers import np_conv1d, random_masks

from kerasser.model.layers import ConvBlock


def built(rng, channels: int, **kwargs) -> ConvBlock:
    block = ConvBlock(**kwargs)
    block.build((None, None, channels))
    for layer in (block.depthwise, block.conv, block.shortcut):
        if layer is not None:
            layer.set_weights([rng.normal(scale=0.5, size=w.shape).astype(np.float32) for w in layer.get_weights()])
    f = block.filters
    block.norm.set_weights([rng.uniform(0.5, 1.5, f), rng.normal(scale=0.3, size=f), rng.normal(scale=0.5, size=f),
                            rng.uniform(0.3, 3.0, f)])
    return block


def reference(block: ConvBlock, x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The block at inference in float64, from its weights."""
    weight = mask.astype(np.float64)[:, :, None]
    xm = x.astype(np.float64) * weight
    span = block.history
    out = []
    for row in xm:
        padded = np.pad(row, [(span, 0), (0, 0)]) if block.causal else row
        padding = "valid" if block.causal else "same"
        if block.separable:
            depthwise = np.asarray(block.depthwise.kernel, np.float64)[:, :, 0]  # [width, channels]
            kernel = np.stack([np.diag(k) for k in depthwise])  # as a full [width, in, in] kernel
            padded = np_conv1d(padded, kernel, padding, block.dilation_rate)
            out.append(np_conv1d(padded, np.asarray(block.conv.kernel, np.float64), "valid"))
        else:
            out.append(np_conv1d(padded, np.asarray(block.conv.kernel, np.float64), padding, block.dilation_rate))
    conv = np.stack(out)
    n = block.norm
    y = np.maximum((conv - np.asarray(n.moving_mean)) / np.sqrt(np.asarray(n.moving_variance) + n.epsilon)
                   * np.asarray(n.gamma) + np.asarray(n.beta), 0.0)
    if block.residual:
        y = y + (xm @ np.asarray(block.shortcut.kernel, np.float64)[0] if block.shortcut is not None else xm)
    return y * weight


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    x = rng.normal(size=(3, 9, 4)).astype(np.float32)
    init = dict(filters=6, kernel_size=3, dilation_rate=2, separable=True, causal=True, name="blk")
    run_layer_test(check, ConvBlock, init, x, mask=random_masks(rng, 9), call_kwargs=dict(training=True))


@pytest.mark.parametrize("separable, causal", [(True, False), (False, True), (True, True)])
@pytest.mark.parametrize("channels, filters", [(4, 4), (4, 6)])
def test_matches_numpy_reference(rng, separable, causal, channels, filters):
    block = built(rng, channels, filters=filters, kernel_size=3, dilation_rate=2, separable=separable, causal=causal)
    x = rng.normal(size=(3, 10, channels)).astype(np.float32)
    mask = random_masks(rng, 10)
    np.testing.assert_allclose(np.asarray(block(x, mask=mask)), reference(block, x, mask), atol=1e-4)


def test_causal_output_never_depends_on_a_later_frame(rng):
    block = built(rng, 4, filters=4, kernel_size=5, dilation_rate=2, separable=True, causal=True)
    x = rng.normal(size=(1, 12, 4)).astype(np.float32)
    later = x.copy()
    later[:, 7:] = rng.normal(size=(1, 5, 4))
    np.testing.assert_allclose(np.asarray(block(x))[:, :7], np.asarray(block(later))[:, :7], atol=1e-6)


@pytest.mark.parametrize("separable", [False, True])
def test_step_chunk_by_chunk_equals_the_offline_block(rng, separable):
    """Chunks of 3, 1 and 4 frames with the first frames invalid (a stream's lead-in frames)."""
    block = built(rng, 4, filters=6, kernel_size=3, dilation_rate=2, separable=separable, causal=True)
    x = rng.normal(size=(1, 8, 4)).astype(np.float32)
    valid = np.ones((1, 8), np.float32)
    valid[:, :2] = 0.0
    offline = np.asarray(block(x, mask=valid.astype(bool)))
    history = np.zeros((1, block.history, 4), np.float32)
    outputs = []
    for start, stop in [(0, 3), (3, 4), (4, 8)]:
        y, history = block.step(x[:, start:stop], valid[:, start:stop], history)
        outputs.append(np.asarray(y))
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), offline, atol=1e-5)


def test_step_refuses_a_block_that_is_not_causal(rng):
    block = built(rng, 4, filters=4, kernel_size=3)
    with pytest.raises(ValueError, match="causal"):
        block.step(np.zeros((1, 2, 4), np.float32), np.ones((1, 2), np.float32), np.zeros((1, 2, 4), np.float32))


def test_separable_weights():
    block = ConvBlock(filters=6, kernel_size=3, separable=True, l2=1e-3)
    block.build((None, None, 4))
    shapes = {w.path.split("/", 1)[1]: tuple(w.shape) for w in block.weights}
    assert shapes == {
        "depthwise/kernel": (3, 4, 1), "conv/kernel": (1, 4, 6), "shortcut/kernel": (1, 4, 6),
        "norm/gamma": (6,), "norm/beta": (6,), "norm/moving_mean": (6,), "norm/moving_variance": (6,),
    }
    assert len(block.losses) == 3  # L2 on the depthwise, the 1x1 and the shortcut kernels
