"""Example makers and NumPy references that several layer test files share, each in one place.

A helper module, not a test module (see also ``harness.py``, the checks every layer passes).
"""

from __future__ import annotations

import keras
import numpy as np

from kerasser.model.layers import AttentionPooling

# --- masks and padding ----------------------------------------------------------------------------


def prefix_mask(lengths, time: int) -> np.ndarray:
    """[batch, time] bool, True for the first ``lengths[b]`` steps of row b (right padding)."""
    return np.arange(time)[None, :] < np.asarray(lengths).reshape(-1, 1)


def random_masks(rng: np.random.Generator, time: int) -> np.ndarray:
    """Three rows: a random prefix, a random non-prefix pattern, a single valid step."""
    prefix = np.arange(time) < rng.integers(2, time)
    # at least two valid steps, the first step padding and the last one valid: never a prefix
    inner = rng.choice(np.arange(1, time - 1), size=rng.integers(1, time - 2), replace=False)
    non_prefix = np.isin(np.arange(time), [*inner, time - 1])
    single = np.arange(time) == rng.integers(0, time)
    mask = np.stack([prefix, non_prefix, single])
    assert not np.array_equal(non_prefix, np.sort(non_prefix)[::-1])  # really not a prefix
    assert mask.sum(axis=1)[2] == 1
    return mask


def junk_padded(rng: np.random.Generator, x: np.ndarray, mask: np.ndarray, extra: int):
    """``(x_long, mask_long)``: ``x`` [batch, time, features] with ``extra`` steps appended and
    every masked step, old or new, holding large random values; ``mask`` extended with False.
    A layer that ignores padding gives the same valid outputs for both."""
    batch, _, features = x.shape
    x_long = np.concatenate([x, np.zeros((batch, extra, features), x.dtype)], axis=1)
    mask_long = np.concatenate([mask, np.zeros((batch, extra), bool)], axis=1)
    x_long[~mask_long] = rng.normal(scale=100.0, size=(int((~mask_long).sum()), features))
    return x_long, mask_long


# --- weights and convolutions ---------------------------------------------------------------------


def randomize(layer: keras.layers.Layer, rng: np.random.Generator) -> list[np.ndarray]:
    """Random values for every weight of a built layer (nonzero biases, so references check them)."""
    weights = [rng.normal(scale=0.3, size=w.shape).astype(np.float32) for w in layer.get_weights()]
    layer.set_weights(weights)
    return weights


def np_conv1d(x: np.ndarray, kernel: np.ndarray, padding: str = "same", dilation: int = 1) -> np.ndarray:
    """x [time, in], kernel [width, in, out] (Keras layout) -> [time', out], no bias. 'same' is
    TensorFlow's: the odd sample of padding goes at the end."""
    span = dilation * (kernel.shape[0] - 1)
    if padding == "same":
        x = np.pad(x, [(span // 2, span - span // 2), (0, 0)])
    steps = x.shape[0] - span
    return sum(x[k * dilation : k * dilation + steps] @ kernel[k] for k in range(kernel.shape[0]))


# the front ends: tiny frames, and the paper's 640 / 160 frames with a small convolution stack
FRONT_END_TINY = dict(filters=4, width=5, time_pool=2, channel_pool=2, frame_length=40, frame_step=10)
FRONT_END_SMALL = dict(filters=4, width=8, time_pool=2, channel_pool=2)
PAPER_FRAME_LENGTHS = (640, 1000, 3200, 8000)  # waveform lengths in samples


# --- AttentionPooling (two test files) ------------------------------------------------------------


def attention_reference(h: np.ndarray, w: np.ndarray, mask: np.ndarray, statistics: bool = False):
    """``AttentionPooling`` in float64. Per head k: ``alpha_k = softmax(h w[:, k])`` over each
    row's valid steps (0 elsewhere), ``mean_k = sum alpha_k h``,
    ``std_k = sqrt(max(sum alpha_k h^2 - mean_k^2, 0) + 1e-6)``. Returns the output
    ``[mean_0, (std_0,) mean_1, (std_1,) ...]`` and the heads' mean attention [batch, time]."""
    h64, w64 = h.astype(np.float64), w.astype(np.float64)
    scores = h64 @ w64  # [batch, time, heads]
    alpha = np.zeros_like(scores)
    for b in range(h.shape[0]):
        real = mask[b]
        if real.any():
            s = scores[b, real]
            e = np.exp(s - s.max(axis=0))
            alpha[b, real] = e / e.sum(axis=0)
    parts = []
    for k in range(w.shape[1]):
        a = alpha[:, :, k : k + 1]
        mean = (a * h64).sum(axis=1)
        parts.append(mean)
        if statistics:
            second = (a * h64**2).sum(axis=1)
            parts.append(np.sqrt(np.maximum(second - mean**2, 0.0) + 1e-6))
    return np.concatenate(parts, axis=-1), alpha.mean(axis=-1)


def built_attention(rng: np.random.Generator, units: int, **kwargs):
    """``(layer, w)``: an ``AttentionPooling(**kwargs)`` built for ``units`` with random (not
    default-initialised) scoring vectors ``w`` [units, heads]."""
    layer = AttentionPooling(**kwargs)
    layer.build((None, None, units))
    w = rng.normal(size=(units, layer.heads)).astype(np.float32)
    layer.set_weights([w])
    return layer, w


# --- masked multi-head attention (SelfAttention, BridgeFusion) ------------------------------------


def np_layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, epsilon: float = 1e-5) -> np.ndarray:
    """Layer normalisation over the last axis, float64."""
    mean = x.mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=-1, keepdims=True) + epsilon) * gamma + beta


def np_attend(q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None, heads: int) -> np.ndarray:
    """Multi-head attention of one row, float64: q [queries, units], k and v [keys, units], mask
    [keys] bool. Each head's softmax runs over the real keys only; no real key: zeros."""
    size = q.shape[-1] // heads
    out = np.zeros((q.shape[0], q.shape[1]))
    real = np.ones(k.shape[0], bool) if mask is None else mask
    if not real.any():
        return out
    for h in range(heads):
        part = slice(h * size, (h + 1) * size)
        scores = q[:, part] @ k[real, part].T / np.sqrt(size)
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        out[:, part] = (e / e.sum(axis=1, keepdims=True)) @ v[real, part]
    return out
