"""BridgeFusion: the shared layer checks, a NumPy reference with masks, padding invariance, an
absent modality adding exactly nothing, one modality alone."""

from __future__ import annotations

import numpy as np
import pytest
from harness import CHECKS, run_layer_test
from layer_helpers import junk_padded, np_attend, np_layer_norm, prefix_mask, random_masks, randomize

from kerasser.model.layers import BridgeFusion


def two_modalities(rng, batch=3):
    audio = rng.normal(size=(batch, 9, 8)).astype(np.float32)
    text = rng.normal(size=(batch, 5, 8)).astype(np.float32)
    return audio, random_masks(rng, 9)[:batch], text, random_masks(rng, 5)[:batch]


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    init = dict(tokens=3, modalities=2, heads=2, ffn_units=10, kernel_initializer="he_normal", name="bridge")
    run_layer_test(check, BridgeFusion, init, list(two_modalities(rng)))


def reference(layer: BridgeFusion, inputs) -> np.ndarray:
    """The layer's formula (its docstring) in float64, row by row."""
    w = {v.path.split("/")[-1]: np.asarray(v, np.float64) for v in layer.weights}
    out = []
    for b in range(inputs[0].shape[0]):
        bridge = w["bridge"]
        query = np_layer_norm(bridge, w["query_gamma"], w["query_beta"]) @ w["query"]
        fused = bridge.copy()
        for m in range(layer.modalities):
            x, mask = inputs[2 * m][b].astype(np.float64), inputs[2 * m + 1][b]
            n = np_layer_norm(x, w[f"gamma_{m}"], w[f"beta_{m}"])
            fused += np_attend(query, n @ w[f"key_{m}"], n @ w[f"value_{m}"], mask, layer.heads) @ w[f"output_{m}"]
        n = np_layer_norm(fused, w["ffn_gamma"], w["ffn_beta"])
        out.append(fused + np.maximum(n @ w["hidden"] + w["hidden_bias"], 0.0) @ w["ffn"] + w["ffn_bias"])
    return np.stack(out)


def built(rng, inputs, **kwargs) -> BridgeFusion:
    layer = BridgeFusion(**kwargs)
    layer.build([x.shape for x in inputs])
    randomize(layer, rng)
    return layer


def test_matches_numpy_reference_with_masks(rng):
    inputs = list(two_modalities(rng))
    layer = built(rng, inputs, tokens=3, heads=2)
    np.testing.assert_allclose(np.asarray(layer(inputs)), reference(layer, inputs), atol=1e-4)


def test_padding_invariance(rng):
    audio, audio_mask, text, text_mask = two_modalities(rng)
    layer = built(rng, [audio, audio_mask, text, text_mask], tokens=2, heads=4)
    audio_long, audio_mask_long = junk_padded(rng, audio, audio_mask, extra=6)
    text_long, text_mask_long = junk_padded(rng, text, text_mask, extra=3)
    np.testing.assert_allclose(np.asarray(layer([audio_long, audio_mask_long, text_long, text_mask_long])),
                               np.asarray(layer([audio, audio_mask, text, text_mask])), atol=1e-5)


def test_absent_modality_adds_nothing(rng):
    """A row whose text is all masked gives what the same layer gives for the audio alone (its
    text weights unused): a missing transcript is the audio-only prediction, exactly."""
    audio, audio_mask, text, _ = two_modalities(rng)
    no_text = np.zeros(text.shape[:2], bool)
    layer = built(rng, [audio, audio_mask, text, no_text], tokens=3, heads=2)
    audio_only = BridgeFusion(tokens=3, modalities=1, heads=2)
    audio_only.build([audio.shape, audio_mask.shape])
    by_name = {v.path.split("/")[-1]: v for v in layer.weights}
    audio_only.set_weights([by_name[v.path.split("/")[-1]].numpy() for v in audio_only.weights])
    fused = np.asarray(layer([audio, audio_mask, text * 100.0, no_text]))
    np.testing.assert_array_equal(fused, np.asarray(layer([audio, audio_mask, -text, no_text])))
    np.testing.assert_allclose(fused, np.asarray(audio_only([audio, audio_mask])), atol=1e-6)


def test_no_modality_at_all_is_finite(rng):
    audio, _, text, _ = two_modalities(rng, batch=2)
    none = [audio, prefix_mask([0, 0], 9), text, prefix_mask([0, 0], 5)]
    out = np.asarray(built(rng, none, tokens=2, heads=2)(none))
    assert np.all(np.isfinite(out)) and np.allclose(out[0], out[1])  # the bridge tokens alone


def test_wrong_inputs_are_refused():
    with pytest.raises(ValueError, match="for each of 2 modalities"):
        BridgeFusion(modalities=2).build([(None, None, 8), (None, None)])
    with pytest.raises(ValueError, match="same units"):
        BridgeFusion(modalities=2, heads=2).build([(None, None, 8), (None, None), (None, None, 6), (None, None)])
