"""Task specs and configuration round trips."""

from __future__ import annotations

import pytest

from kerasser.config import AudioConfig, ModelConfig, TrainConfig, load_train_config, save_json
from kerasser.tasks import TASKS, get_task, level_from_rating, parse_tasks


def test_parse_tasks_letters_and_names():
    assert [t.name for t in parse_tasks("a,v,d")] == ["arousal", "valence", "dominance"]
    assert [t.name for t in parse_tasks(["emotion", "a"])] == ["emotion", "arousal"]
    with pytest.raises(ValueError, match="unknown task"):
        parse_tasks("a,q")
    with pytest.raises(ValueError, match="twice"):
        parse_tasks("a,arousal")
    assert get_task("E").classes[0] == "anger"
    assert TASKS["valence"].index("High") == 2


@pytest.mark.parametrize("rating, level", [(1.0, 0), (2.0, 0), (2.0001, 1), (3.5, 1), (3.9999, 1), (4.0, 2), (5.0, 2)])
def test_iemocap_rating_cuts(rating, level):
    assert level_from_rating(rating) == level


@pytest.mark.parametrize("n, frames", [(1, 1), (640, 1), (641, 2), (800, 2), (801, 3), (32000, 197)])
def test_num_frames(n, frames):
    assert AudioConfig().num_frames(n) == frames


def test_train_config_json_round_trip(tmp_path):
    config = TrainConfig(
        corpora=(("emodb", "/data/emodb"), ("baved", "/data/baved")),
        out="runs/x",
        model=ModelConfig(tasks=("arousal", "emotion"), attention=False, frontend="framed", conv_padding="same"),
        loss_weights=(1.0, 0.5),
        seed=3,
    )
    save_json(config, tmp_path / "c.json")
    assert load_train_config(tmp_path / "c.json") == config
    assert config.task_weights == {"arousal": 1.0, "emotion": 0.5}


def test_invalid_configs():
    with pytest.raises(ValueError, match="valid"):
        ModelConfig(frontend="shared", conv_padding="same")
    with pytest.raises(ValueError, match="loss weights"):
        TrainConfig(corpora=(), out="x", loss_weights=(1.0,))


def test_a_saved_configuration_without_newer_fields_still_matches():
    """as_given (which decides whether a run folder holds a run of a configuration, e.g. a fold to
    resume) reads a saved dict back first: a field added since it was written counts at its default."""
    import dataclasses
    import json

    from kerasser.config import as_given, to_dict

    config = TrainConfig(corpora=(("emodb", "e"),), out="runs/x")
    saved = json.loads(json.dumps(to_dict(config)))
    del saved["model"]["norm_gate_db"]  # written before the field existed
    assert as_given(saved) == as_given(config)
    other = dataclasses.replace(config, model=dataclasses.replace(config.model, norm_gate_db=30.0))
    assert as_given(saved) != as_given(other)
