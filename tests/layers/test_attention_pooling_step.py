"""AttentionPooling's streaming: ``step`` over chunks (an online softmax) then ``pooled`` equals
the offline layer on the whole sequence, with masks, several heads and statistics."""

from __future__ import annotations

import numpy as np
import pytest
from layer_helpers import built_attention


@pytest.mark.parametrize("heads, statistics", [(1, False), (3, True), (2, False)])
def test_step_over_chunks_equals_the_offline_pooling(rng, heads, statistics):
    units = 4
    h = (rng.normal(size=(2, 9, units)) * 3).astype(np.float32)  # scores far apart: the running max matters
    mask = np.ones((2, 9), bool)
    mask[0, :2] = False  # a stream's lead-in frames
    mask[1, 5] = False
    layer, _ = built_attention(rng, units, heads=heads, statistics=statistics)
    offline = np.asarray(layer(h, mask=mask))
    state = layer.initial_state(2, units)
    for start, stop in [(0, 1), (1, 4), (4, 9)]:
        state = layer.step(h[:, start:stop], mask[:, start:stop].astype(np.float32), state)
    # the standard deviation is sqrt(E[h^2] - E[h]^2): a difference of near equals, summed in another order
    np.testing.assert_allclose(np.asarray(layer.pooled(state)), offline, atol=2e-4 if statistics else 1e-5)


def test_before_any_real_step_the_pooled_vector_is_zero(rng):
    layer, _ = built_attention(rng, 3, heads=1)
    state = layer.step(rng.normal(size=(1, 2, 3)).astype(np.float32), np.zeros((1, 2), np.float32),
                       layer.initial_state(1, 3))
    assert np.all(np.asarray(layer.pooled(state)) == 0.0)
