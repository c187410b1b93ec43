"""CTCOutput: the shared layer checks, a NumPy reference (log-softmax, certain blanks on padding),
and CTC loss over a padded batch equal to each row's loss alone."""

from __future__ import annotations

import numpy as np
import pytest
from harness import CHECKS, run_layer_test
from layer_helpers import prefix_mask

from kerasser.model.layers import CTCOutput


def reference(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    out = x - x.max(axis=-1, keepdims=True)
    out = out - np.log(np.exp(out).sum(axis=-1, keepdims=True))
    certain_blank = np.full(x.shape[-1], -1e9)
    certain_blank[0] = 0.0
    out[~mask] = certain_blank
    return out


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    logits = rng.normal(size=(3, 6, 5)).astype(np.float32)
    run_layer_test(check, CTCOutput, dict(name="transcript"), logits, mask=prefix_mask([6, 3, 1], 6),
                   skip={"gradient": "no weights"})


def test_matches_numpy_reference(rng):
    logits = rng.normal(scale=3.0, size=(3, 7, 6)).astype(np.float32)
    mask = prefix_mask([7, 4, 1], 7)
    out = np.asarray(CTCOutput()(logits, mask=mask))
    np.testing.assert_allclose(out, reference(logits, mask), atol=1e-5)
    np.testing.assert_allclose(np.exp(out).sum(axis=-1), 1.0, atol=1e-5)  # a distribution per step
    np.testing.assert_allclose(np.asarray(CTCOutput()(logits)), reference(logits, np.ones((3, 7), bool)), atol=1e-5)


def test_ctc_loss_of_a_padded_batch_equals_each_row_alone(rng):
    from keras import ops

    logits = rng.normal(size=(1, 5, 4)).astype(np.float32)
    target = np.array([[1, 2]], np.int32)
    alone = ops.ctc_loss(target, CTCOutput()(logits), np.array([2]), np.array([5]))
    padded = np.concatenate([logits, rng.normal(scale=5.0, size=(1, 4, 4)).astype(np.float32)], axis=1)
    out = CTCOutput()(padded, mask=prefix_mask([5], 9))
    together = ops.ctc_loss(target, out, np.array([2]), np.array([9]))
    np.testing.assert_allclose(np.asarray(together), np.asarray(alone), rtol=1e-5)
