"""ModalityDropout: the shared layer checks (in training), a NumPy reference of the drops, the
identity at inference, examples without text keep their audio, the drop rates."""

from __future__ import annotations

import numpy as np
import pytest
from harness import CHECKS, run_layer_test
from layer_helpers import prefix_mask

from kerasser.model.layers import ModalityDropout


def masks():
    return prefix_mask([6, 4, 6, 2], 6), prefix_mask([3, 0, 5, 1], 5)


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    run_layer_test(check, ModalityDropout, dict(rate=0.5, seed=2, name="modality_dropout"), list(masks()),
                   call_kwargs=dict(training=True), skip={"gradient": "no weights"})


def reference(audio, text, draw, rate):
    audio, text = audio.copy(), text.copy()
    for b in range(len(draw)):
        if audio[b].any() and text[b].any():
            if draw[b] < rate:
                text[b] = False
            elif draw[b] < rate + (1 - rate) * rate / 2:
                audio[b] = False
    return audio, text


def test_drops_match_a_numpy_reference():
    audio, text = masks()
    draw = np.array([0.1, 0.1, 0.6, 0.9], np.float32)
    got = [np.asarray(m) for m in ModalityDropout(0.5).drop(audio, text, draw)]
    want = reference(audio, text, draw, 0.5)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert not got[1][0].any() and got[0][0].any()  # row 0: text dropped
    assert got[0][1].any()  # row 1 has no text: its audio stays whatever the draw
    assert not got[0][2].any() and got[1][2].any()  # row 2: audio dropped


def test_identity_at_inference_and_rate_zero():
    audio, text = masks()
    for out in (ModalityDropout(0.9, seed=0)([audio, text]), ModalityDropout(0.0)([audio, text], training=True)):
        np.testing.assert_array_equal(np.asarray(out[0]), audio)
        np.testing.assert_array_equal(np.asarray(out[1]), text)


def test_rates_over_many_examples():
    audio, text = prefix_mask([3] * 4000, 3), prefix_mask([2] * 4000, 2)
    a, t = (np.asarray(m) for m in ModalityDropout(0.6, seed=5)([audio, text], training=True))
    lost_text, lost_audio = ~t.any(axis=1), ~a.any(axis=1)
    assert abs(lost_text.mean() - 0.6) < 0.03 and abs(lost_audio.mean() - 0.4 * 0.3) < 0.03
    assert not (lost_text & lost_audio).any()  # never both


def test_rate_must_be_a_probability_below_one():
    with pytest.raises(ValueError, match="rate"):
        ModalityDropout(1.0)
