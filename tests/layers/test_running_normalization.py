"""RunningNormalization: the shared layer checks, a NumPy reference with masks, causality, and
``step`` chunk by chunk equal to the offline layer."""

from __future__ import annotations

import numpy as np
import pytest
from harness import CHECKS, run_layer_test
from layer_helpers import random_masks

from kerasser.model.layers import RunningNormalization


def reference(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.zeros_like(x, dtype=np.float64)
    for b in range(x.shape[0]):
        for t in range(x.shape[1]):
            if mask[b, t]:
                seen = x[b, : t + 1][mask[b, : t + 1]]
                out[b, t] = x[b, t] - seen.mean(axis=0)
    return out


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    run_layer_test(check, RunningNormalization, dict(name="norm"), rng.normal(size=(3, 7, 4)).astype(np.float32),
                   mask=random_masks(rng, 7), skip={"gradient": "no weights"})


def test_matches_numpy_reference_with_masks(rng):
    x = rng.normal(size=(3, 8, 4)).astype(np.float32)
    mask = random_masks(rng, 8)
    np.testing.assert_allclose(np.asarray(RunningNormalization()(x, mask=mask)), reference(x, mask), atol=1e-5)


def test_step_chunk_by_chunk_equals_the_offline_layer(rng):
    layer = RunningNormalization()
    x = rng.normal(size=(1, 9, 3)).astype(np.float32)
    valid = np.ones((1, 9), np.float32)
    valid[:, :2] = 0.0
    state = (np.zeros((1, 1, 3), np.float32), np.zeros((1, 1, 1), np.float32))
    parts = []
    for start, stop in [(0, 4), (4, 5), (5, 9)]:
        y, state = layer.step(x[:, start:stop], valid[:, start:stop], state)
        parts.append(np.asarray(y))
    np.testing.assert_allclose(np.concatenate(parts, 1), np.asarray(layer(x, mask=valid.astype(bool))), atol=1e-5)
