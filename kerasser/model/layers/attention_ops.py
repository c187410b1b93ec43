"""Masked multi-head attention as plain Keras ops, shared by the attention layers (``SelfAttention``,
``BridgeFusion``). Lowers to TFLite builtins (BATCH_MATMUL, TRANSPOSE, RESHAPE, SOFTMAX, SELECT).

Masking: ``mask`` [batch, keys] bool, True for a real key. Masked keys get weight exactly 0 and
the softmax runs over the real keys only; a row with no real key gets all-zero weights and so a
zero output (never NaN, also in float16: masked scores are the dtype's lowest finite value, not
-inf; ``kerasser.model.layers.attention_pooling.masked_score``).
"""

from __future__ import annotations

import math
import warnings

from keras import ops

from kerasser.model.layers.attention_pooling import masked_score


def split_heads(x, heads: int):
    """[batch, time, units] -> [batch, heads, time, units // heads]."""
    batch, time = ops.shape(x)[0], ops.shape(x)[1]
    x = ops.reshape(x, (batch, time, heads, x.shape[-1] // heads))
    return ops.transpose(x, (0, 2, 1, 3))


def merge_heads(x):
    """[batch, heads, time, size] -> [batch, time, heads * size]."""
    x = ops.transpose(x, (0, 2, 1, 3))
    return ops.reshape(x, (ops.shape(x)[0], ops.shape(x)[1], x.shape[2] * x.shape[3]))


def attention_weights(query, key, mask, heads: int):
    """Softmax of the scaled dot products [batch, heads, queries, keys] of projected ``query``
    [batch, queries, units] and ``key`` [batch, keys, units], 0 on masked keys."""
    q, k = split_heads(query, heads), split_heads(key, heads)
    scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) * (1.0 / math.sqrt(q.shape[-1]))
    if mask is None:
        return _softmax(scores)
    valid = ops.cast(mask, "bool")[:, None, None, :]
    scores = ops.where(valid, scores, ops.full_like(scores, masked_score(scores.dtype)))
    return _softmax(scores) * ops.cast(valid, scores.dtype)


def _softmax(scores):
    """Softmax over the keys; one key (a one-token transcript) is fine here, so Keras' warning
    about a softmax over an axis of size 1 is held back."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="You are using a softmax over axis")
        return ops.softmax(scores, axis=-1)


def attend(query, key, value, mask, heads: int):
    """Masked multi-head attention of projected ``query``, ``key``, ``value`` [batch, time, units]:
    [batch, queries, units] (zero for a row with no real key)."""
    weights = attention_weights(query, key, mask, heads)
    return merge_heads(ops.matmul(weights, split_heads(value, heads)))


def layer_norm(x, gamma, beta, epsilon: float = 1e-5):
    """Layer normalisation over the last axis."""
    mean = ops.mean(x, axis=-1, keepdims=True)
    variance = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * ops.rsqrt(variance + epsilon) * gamma + beta
