"""Speaker-level normalisation of predictions: known answers on small hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from kerasser.evaluate.speaker_norm import normalise_by_speaker, normalise_predictions


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_a_speakers_bias_is_removed():
    """Speaker B's clips are A's clips seen through a bias towards class 2 (a loud voice): plain
    argmax calls every B clip class 2; normalised, A and B get the same answers."""
    logits = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]])
    bias = np.array([0.0, 0.0, 3.0])
    probs = softmax(np.vstack([logits, logits + bias]))
    speakers = ["a"] * 3 + ["b"] * 3
    assert probs[3:].argmax(1).tolist() == [2, 2, 2]
    out = normalise_by_speaker(probs, speakers)
    np.testing.assert_allclose(out[:3], out[3:], atol=1e-12)
    assert out.argmax(1).tolist() == [0, 1, 2, 0, 1, 2]
    np.testing.assert_allclose(out.sum(1), 1.0)


def test_centred_log_probabilities_reference():
    rng = np.random.default_rng(0)
    probs = softmax(rng.normal(size=(7, 4)))
    speakers = ["x", "y", "x", "y", "x", "y", "y"]
    logp = np.log(probs)
    expected = np.empty_like(logp)
    for s in ("x", "y"):
        rows = [i for i, name in enumerate(speakers) if name == s]
        expected[rows] = logp[rows] - logp[rows].mean(0)
    np.testing.assert_allclose(normalise_by_speaker(probs, speakers), softmax(expected), rtol=1e-10)


def test_clips_of_one_speaker_alike_become_uniform():
    probs = np.tile([[0.7, 0.2, 0.1]], (4, 1))
    np.testing.assert_allclose(normalise_by_speaker(probs, ["s"] * 4), np.full((4, 3), 1 / 3))


def test_a_lone_clip_keeps_its_probabilities_and_order_does_not_matter():
    rng = np.random.default_rng(1)
    probs = softmax(rng.normal(size=(6, 3)))
    speakers = ["a", "b", "a", "c", "b", "a"]  # c has one clip
    out = normalise_by_speaker(probs, speakers)
    np.testing.assert_allclose(out[3], probs[3], rtol=1e-12)
    perm = rng.permutation(6)
    np.testing.assert_allclose(normalise_by_speaker(probs[perm], [speakers[i] for i in perm]), out[perm], rtol=1e-12)


def test_zero_probabilities_stay_finite():
    probs = np.array([[1.0, 0.0], [0.0, 1.0]])
    out = normalise_by_speaker(probs, ["s", "s"])
    assert np.all(np.isfinite(out))
    assert out.argmax(1).tolist() == [0, 1]


@pytest.mark.parametrize("probs, speakers, message", [
    (np.ones(3) / 3, ["a"], "clips x classes"),
    (np.ones((2, 3)) / 3, ["a"], "1 speaker names for 2 clips"),
])
def test_bad_shapes(probs, speakers, message):
    with pytest.raises(ValueError, match=message):
        normalise_by_speaker(probs, speakers)


def test_per_utterance_predictions_are_normalised_per_task():
    """normalise_predictions: each task's probabilities centred per speaker (as normalise_by_speaker),
    the raw argmax dropped, everything else kept."""
    probs = [[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6]]
    kept = {"paths": ["a", "b", "c"], "speakers": ["s1", "s1", "s2"], "labels": [0, 1, 2],
            "predicted": [0, 0, 2], "probabilities": probs, "classes": ["x", "y", "z"]}
    out = normalise_predictions({"emotion": kept})["emotion"]
    np.testing.assert_allclose(out["probabilities"], normalise_by_speaker(np.asarray(probs), kept["speakers"]))
    assert "predicted" not in out
    assert {k: out[k] for k in ("paths", "speakers", "labels", "classes")} == {
        k: kept[k] for k in ("paths", "speakers", "labels", "classes")}
    assert np.argmax(out["probabilities"][1]) == 1  # s1's second clip: more "y" than s1's mean
