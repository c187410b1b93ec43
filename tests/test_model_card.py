"""The model card's reproduce command parses back to the run's configuration."""

from __future__ import annotations

import shlex

from kerasser.config import ModelConfig, TrainConfig
from kerasser.model_card import render, train_command
from kerasser_cli.main import cli


def test_train_command_parses_back_to_the_config():
    config = TrainConfig(
        corpora=(("emodb", "data/emodb"), ("manifest", "my clips.csv")),
        out="runs/card",
        model=ModelConfig(tasks=("arousal", "valence", "emotion"), attention=False, frontend="framed", conv_padding="same"),
        loss_weights=(1.0, 0.5, 2.0),
        epochs=7,
        learning_rate=1e-3,
        seed=4,
        train_splits=("train", "dev"),
        dev_split=None,
    )
    args = shlex.split(train_command(config))
    assert args[:2] == ["kerasser", "train"]
    params = cli.commands["train"].make_context("train", args[2:]).params
    assert params["corpus"] == ("emodb", "manifest") and params["data"] == ("data/emodb", "my clips.csv")
    assert params["tasks"] == "a,v,e" and params["attention"] is False
    assert params["frontend"] == "framed" and params["padding"] == "same"
    assert params["loss_weights"] == "1,0.5,2" and params["epochs"] == 7 and params["lr"] == 1e-3
    assert params["seed"] == 4 and params["train_splits"] == "train,dev" and params["dev_split"] == "none"
    assert params["out"] == "runs/card"


def test_card_lists_tasks_and_scores_from_metadata():
    config = TrainConfig(corpora=(("emodb", "data/emodb"),), out="runs/card")
    metadata = {
        "name": "demo",
        "tasks": [{"name": "arousal", "classes": ["low", "mid", "high"]}, {"name": "valence", "classes": ["low", "mid", "high"]}],
        "test": {"uar": {"arousal": 71.24}},
        "parity": {"clips": {"count": 8}, "int8": {"max_abs_diff": 0.2, "argmax_agreement": 0.875,
                                                   "test_uar_change": {"arousal": -0.4}}},
    }
    card = render(metadata, config, "kerasser export runs/card --out exported/demo")
    assert "| arousal | low, mid, high | 71.2 |" in card
    assert "| valence | low, mid, high | n/a |" in card
    assert "- int8: max |probability difference| vs Keras 0.2, same class on 88 % of 8 clips; test UAR change arousal -0.4" in card
    assert "kerasser export runs/card --out exported/demo" in card and "acted German speech" in card
