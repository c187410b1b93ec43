"""TokenEmbedding: the shared layer checks, a NumPy reference (table rows plus sinusoids), the
mask from the padding id, cut at max_length, ids clipped into the table."""

from __future__ import annotations

import numpy as np
import pytest
from harness import CHECKS, run_layer_test

from kerasser.model.layers import TokenEmbedding
from kerasser.model.layers.token_embedding import sinusoids


def ids_example():
    return np.array([[3, 5, 2, 0, 0], [1, 0, 0, 0, 0], [4, 4, 4, 6, 2]], np.int32)


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    init = dict(vocabulary_size=7, units=6, max_length=16, embeddings_initializer="he_normal", name="embed")
    run_layer_test(check, TokenEmbedding, init, ids_example())


def test_matches_numpy_reference(rng):
    ids = ids_example()
    layer = TokenEmbedding(7, 6, max_length=16)
    layer.build(ids.shape)
    table = rng.normal(size=(7, 6)).astype(np.float32)
    layer.set_weights([table, sinusoids(16, 6)])
    x, mask = (np.asarray(t) for t in layer(ids))
    np.testing.assert_array_equal(mask, ids != 0)
    expected = (table[ids] * np.sqrt(6) + sinusoids(16, 6)[None, :5]) * (ids != 0)[..., None]
    np.testing.assert_allclose(x, expected, atol=1e-5)
    assert np.all(x[ids == 0] == 0.0)


def test_sinusoids_are_the_transformer_table():
    table = sinusoids(50, 8)
    np.testing.assert_allclose(table[:, 0], np.sin(np.arange(50)), atol=1e-6)
    np.testing.assert_allclose(table[:, 1], np.cos(np.arange(50)), atol=1e-6)
    np.testing.assert_allclose(table[:, 6], np.sin(np.arange(50) / 10000 ** (6 / 8)), atol=1e-6)


def test_positions_are_fixed_and_built():
    layer = TokenEmbedding(5, 4, max_length=8)
    assert not layer.weights
    layer.build((None, None))
    assert [tuple(w.shape) for w in layer.trainable_weights] == [(5, 4)]
    np.testing.assert_allclose(np.asarray(layer.non_trainable_weights[0]), sinusoids(8, 4))


def test_long_sequences_are_cut_and_unknown_ids_clipped():
    layer = TokenEmbedding(5, 4, max_length=3)
    x, mask = layer(np.array([[1, 2, 3, 4, 9]], np.int32))
    assert x.shape == (1, 3, 4) and np.asarray(mask).tolist() == [[True, True, True]]
    clipped, _ = layer(np.array([[4]], np.int32))
    beyond, _ = layer(np.array([[99]], np.int32))
    np.testing.assert_array_equal(np.asarray(clipped), np.asarray(beyond))
