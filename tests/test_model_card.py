"""The model card's reproduce command parses back to the run's configuration."""

from __future__ import annotations

import dataclasses
import shlex

import pytest
from kerasser_cli.main import cli

from kerasser.config import ModelConfig, TrainConfig
from kerasser.data.augment import AugmentConfig
from kerasser.export.model_card import render, train_command
from kerasser.training.recipes import build_train_config


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
    assert params["frontend"] == "framed" and params["conv_padding"] == "same" and params["recipe"] == "paper"
    assert params["loss_weights"] == "1,0.5,2" and params["epochs"] == 7 and params["learning_rate"] == 1e-3
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


def test_card_names_each_corpus_licence():
    config = TrainConfig(corpora=(("emodb", "e"), ("ravdess", "r")), out="runs/card")
    card = render({"name": "multi", "tasks": []}, config, "kerasser export runs/card --out exported/multi")
    assert "- RAVDESS (Livingstone & Russo, PLoS ONE 2018) is licensed CC BY-NC-SA 4.0: these weights are for " \
           "non-commercial use only" in card
    assert "- EmoDB (Burkhardt et al., Interspeech 2005)" in card and "BAVED" not in card
    assert "--balance-corpora" in train_command(dataclasses.replace(config, balance_corpora=True))


def test_multi_corpus_card_scores_each_corpus_and_names_its_limits():
    """A model trained on two corpora: each corpus' test scores in a table (the export's
    test.per_corpus), and each corpus' speakers, language and recording among the limits."""
    config = TrainConfig(corpora=(("emodb", "e"), ("ravdess", "r")), out="runs/card")
    per_corpus = {"emodb": {"files": 107, "emotion": 70.04, "emotion_common": 80.0, "arousal": 90.0},
                  "ravdess": {"files": 240, "emotion": 61.25, "emotion_common": 75.5, "arousal": 70.0,
                              "valence": 71.0}}
    card = render({"name": "multi", "tasks": [], "test": {"uar": {}, "per_corpus": per_corpus}}, config, "x")
    assert "| corpus | clips | emotion (its own classes) | emotion, 4-class common | arousal | valence |" in card
    assert "| emodb | 107 | 70.0 | 80.0 | 90.0 |  |" in card
    assert "| ravdess | 240 | 61.2 | 75.5 | 70.0 | 71.0 |" in card
    assert "acted German speech" in card and "acted North American English" in card
    assert "EmoDB's test split has two speakers" in card
    one = render({"name": "r", "tasks": [], "test": {"per_corpus": {"ravdess": per_corpus["ravdess"]}}},
                 TrainConfig(corpora=(("ravdess", "r"),), out="runs/r"), "x")
    assert "| corpus | clips |" not in one and "German" not in one and "acted North American English" in one


def config_from_command(command: str) -> TrainConfig:
    """What `kerasser train` would build from ``command`` (click parses it; nothing is trained)."""
    from kerasser_cli.options import corpus_pairs
    from kerasser_cli.train_options import recipe_overrides

    params = dict(cli.commands["train"].make_context("train", shlex.split(command)[2:]).params)
    corpus, data, out = params.pop("corpus"), params.pop("data"), params.pop("out")
    params.pop("resume")
    return build_train_config(corpora=corpus_pairs(corpus, data), out=out, **recipe_overrides(params))


DEFAULT = build_train_config(corpora=(("emodb", "data/emodb"),), out="runs/d", tasks=("arousal", "emotion"))


@pytest.mark.parametrize("config", [
    DEFAULT,
    build_train_config("paper", corpora=(("emodb", "e"), ("baved", "b")), out="runs/p", tasks=("arousal",)),
    dataclasses.replace(DEFAULT, seed=3, epochs=30, learning_rate=5e-4, train_splits=("train", "dev"), dev_split=None,
                        average_last=5, class_balanced=False, label_smoothing=0.0,
                        augment=AugmentConfig(speed=(), noise_prob=0.5, reverb_prob=0.3, gain_db=6.0),
                        model=dataclasses.replace(DEFAULT.model, bidirectional=False, pool_heads=2, block_se=32,
                                                  spec_time_masks=0, spec_freq_masks=0, feature_norm="meanvar",
                                                  norm_gate_db=30.0)),
    build_train_config("paper", corpora=(("emodb", "e"),), out="r", frontend="logmel", learning_rate=1e-3),
    dataclasses.replace(DEFAULT, loss_weights="auto"),
], ids=["default", "paper", "default-changed", "paper-logmel", "default-auto-weights"])
def test_train_command_rebuilds_recipe_configs(config):
    command = train_command(config)
    assert config_from_command(command) == config, command


def test_ensemble_card_lists_every_member():
    metadata = {"name": "ens", "tasks": [], "training": {"ensemble": [
        {"run": "runs/s0", "seed": 0}, {"run": "runs/s1", "seed": 1}]}}
    card = render(metadata, dataclasses.replace(DEFAULT, out="runs/ens"), "kerasser export runs/ens --out exported/ens")
    assert "ensemble of 2 runs" in card and "seeds 0, 1" in card
    assert "--seed 0 --out runs/s0" in card and "--seed 1 --out runs/s1" in card
    assert "kerasser ensemble runs/s0 runs/s1 --out runs/ens" in card


def test_description_names_the_pooling_heads():
    from kerasser.export.model_card import describe

    assert "attentive statistics pooling with 4 heads" in describe(DEFAULT)
    one_head = dataclasses.replace(DEFAULT, model=dataclasses.replace(DEFAULT.model, pool_heads=1))
    assert "attentive statistics pooling and" in describe(one_head)


def test_description_names_tasks_read_off_the_emotion_head():
    from kerasser.export.model_card import describe

    assert "read off" not in describe(DEFAULT)
    derived = dataclasses.replace(DEFAULT, model=dataclasses.replace(
        DEFAULT.model, tasks=("emotion", "dominance"), derived_tasks=("dominance",)))
    assert describe(derived).endswith("a softmax head per task (dominance read off the emotion head's "
                                      "probabilities, summed per level)")
    readout = dataclasses.replace(DEFAULT, model=dataclasses.replace(
        DEFAULT.model, tasks=("emotion", "dominance"), readout_tasks=("dominance",)))
    assert "its own head trained alongside, not shipped" in describe(readout)
