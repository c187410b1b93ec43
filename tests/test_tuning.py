"""kerasser tune: a seeded random search over loss weights (keras-tuner) with two trials of a
tiny model, its results and best_config.json, and `kerasser train --config` starting from it."""

from __future__ import annotations

import dataclasses
import json

import pytest
import tiny
from click.testing import CliRunner

from kerasser.config import ModelConfig, TrainConfig, load_train_config
from kerasser.training.tuning import format_results, tune_loss_weights

pytestmark = pytest.mark.slow

TINY = ModelConfig(tasks=("arousal", "emotion"), **tiny.TINY)


def test_two_trials_and_training_from_the_best(emodb_small, tmp_path):
    config = TrainConfig(corpora=(("manifest", str(emodb_small)),), out=str(tmp_path / "tune"), model=TINY,
                         epochs=1, batch_size=8, learning_rate=1e-3, seed=3)
    document = tune_loss_weights(config, trials=2, write=lambda line: None)
    trials = document["trials"]
    assert len(trials) == 2 and all(len(t["loss_weights"]) == 2 for t in trials)
    assert all(0.1 <= w <= 1.0 and w == round(w, 1) for t in trials for w in t["loss_weights"])  # on the 0.1 grid
    assert trials[0]["mean_dev_uar"] >= trials[1]["mean_dev_uar"]  # best first
    assert document["best"] == trials[0]
    assert json.loads((tmp_path / "tune" / "results.json").read_text()) == document
    assert "dev UAR" in format_results(document)
    best = load_train_config(tmp_path / "tune" / "best_config.json")
    assert best.loss_weights == pytest.approx(tuple(trials[0]["loss_weights"])) and best.model == TINY

    # rerun: the finished search is reused, not repeated
    assert tune_loss_weights(config, trials=2, write=lambda line: None)["trials"] == trials

    from kerasser_cli.main import cli

    out = tmp_path / "tuned"
    result = CliRunner().invoke(cli, ["train", "--config", str(tmp_path / "tune" / "best_config.json"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    trained = load_train_config(out / "config.json")
    # the model's settings, its emotion head fitted to the classes the data labels (kerasser.data.label_space)
    fitted = dataclasses.replace(TINY, emotion_classes=trained.model.emotion_classes)
    assert trained.loss_weights == best.loss_weights and trained.model == fitted and trained.corpora == best.corpora
