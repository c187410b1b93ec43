"""ClassGrouping: the shared layer checks, a NumPy reference, and the emotion -> level groups."""

from __future__ import annotations

import numpy as np
import pytest
from harness import CHECKS, run_layer_test

from kerasser.model.layers import ClassGrouping
from kerasser.tasks import EMOTION, LEVELS, emotion_groups

GROUPS = [2, 0, 1, 0, 2, 0, 1]  # EmoDB's dominance levels of its 7 emotions


def _probabilities(rng, rows=4, classes=7):
    logits = rng.normal(size=(rows, classes))
    return (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("check", CHECKS)
def test_layer_checks(rng, check):
    skip = {"gradient": "no weights (a fixed sum of its inputs)"}
    run_layer_test(check, ClassGrouping, dict(groups=GROUPS, num_groups=3, name="grouping"), _probabilities(rng),
                   skip=skip)


def test_matches_a_numpy_sum_over_each_group(rng):
    p = _probabilities(rng)
    reference = np.stack([p[:, [c for c, g in enumerate(GROUPS) if g == group]].sum(1) for group in range(3)], 1)
    q = np.asarray(ClassGrouping(GROUPS)(p))
    np.testing.assert_allclose(q, reference, rtol=1e-6)
    np.testing.assert_allclose(q.sum(1), 1.0, rtol=1e-6)  # still a distribution


def test_a_group_without_classes_gets_probability_zero(rng):
    q = np.asarray(ClassGrouping([0, 0, 2], num_groups=4)(_probabilities(rng, classes=3)))
    assert q.shape == (4, 4)
    np.testing.assert_array_equal(q[:, [1, 3]], 0.0)


def test_classes_without_a_group_are_left_out_and_the_rest_renormalised(rng):
    """groups -1 (RAVDESS' calm and surprise have no level): q_g = sum_{c in g} p_c / sum_{c grouped} p_c."""
    groups = [*GROUPS, -1, -1]
    p = _probabilities(rng, classes=9)
    grouped = p[:, :7]
    reference = np.stack([grouped[:, [c for c, g in enumerate(GROUPS) if g == group]].sum(1) for group in range(3)], 1)
    q = np.asarray(ClassGrouping(groups, num_groups=3)(p))
    np.testing.assert_allclose(q, reference / grouped.sum(1, keepdims=True), rtol=1e-5)
    layer = ClassGrouping.from_config(ClassGrouping(groups, num_groups=3).get_config())
    np.testing.assert_allclose(np.asarray(layer(p)), q, rtol=1e-6)
    with pytest.raises(ValueError, match="groups must be in"):
        ClassGrouping([-1, -1], num_groups=3)  # nothing grouped


def test_groups_outside_the_range_or_of_another_length_are_refused(rng):
    with pytest.raises(ValueError, match="groups must be in"):
        ClassGrouping([0, 3], num_groups=3)
    with pytest.raises(ValueError, match="2 groups given for 7 classes"):
        ClassGrouping([0, 1])(_probabilities(rng))


def test_emotion_groups_follow_the_protocol_table():
    """PROTOCOL.md: anger high / low / high, sadness low / low / low, neutral mid / mid / mid, ..."""
    assert emotion_groups("dominance") == tuple(GROUPS)
    level = {task: dict(zip(EMOTION.classes, (LEVELS[g] for g in emotion_groups(task))))
             for task in ("arousal", "valence", "dominance")}
    assert (level["arousal"]["fear"], level["valence"]["fear"], level["dominance"]["fear"]) == ("high", "low", "low")
    assert level["valence"]["happiness"] == "high" and level["arousal"]["neutral"] == "mid"
    with pytest.raises(Exception, match="emotion"):
        emotion_groups("emotion")
