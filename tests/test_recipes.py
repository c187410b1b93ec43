"""kerasser.training.recipes: the named recipes, overrides, and the CLI's choice lists kept in step."""

from __future__ import annotations

import dataclasses
import json

import pytest

from kerasser.config import AudioConfig, ModelConfig, TrainConfig, load_train_config, save_json
from kerasser.errors import SettingsError
from kerasser.training.recipes import RECIPES, build_train_config

CORPORA = (("emodb", "data/emodb"),)


def test_paper_recipe_is_the_first_release_defaults():
    """--recipe paper must stay exactly what kerasser trained before recipes existed."""
    config = build_train_config("paper", corpora=CORPORA, out="r", tasks=("arousal", "valence", "dominance"))
    assert config == TrainConfig(corpora=CORPORA, out="r")
    assert config.model.frontend == "shared" and config.model.audio.frame_length == 640
    assert config.learning_rate == 1e-4 and config.optimizer == "adam" and not config.augment.active


def test_default_recipe():
    config = build_train_config(corpora=CORPORA, out="r", tasks=("emotion",))
    m = config.model
    assert m.frontend == "logmel" and m.audio == AudioConfig(frame_length=400, frame_step=160)
    assert m.bidirectional and m.pool_statistics and m.spec_time_masks == m.spec_freq_masks == 0
    assert config.optimizer == "adamw" and config.schedule == "cosine" and config.class_balanced
    assert config.augment.speed == (0.9, 1.0, 1.1) and config.augment.noise_prob > 0 and config.augment.reverb_prob > 0
    assert config.augment.mixup_alpha == 0.4 and m.pool_heads == 4
    assert m.tasks == ("emotion",)


EAVD = ("emotion", "arousal", "valence", "dominance")


def test_default_reads_dominance_off_the_emotion_head_where_the_corpus_defines_it_so():
    """The sixth default is v5 plus one rule: with emotion and dominance among the tasks and only
    corpora whose dimension labels are their emotion's levels (EmoDB), dominance is read out of the
    emotion head and the epoch is picked on the trained heads; anywhere else it is v5 exactly."""
    from kerasser.training.options import train_arguments

    default = build_train_config(corpora=CORPORA, out="r", tasks=EAVD)
    v5 = build_train_config("v5", corpora=CORPORA, out="r", tasks=EAVD)
    assert default.model.readout_tasks == ("dominance",) and default.select_on == "trained"
    assert default == build_train_config("v5", corpora=CORPORA, out="r", tasks=EAVD, readout_tasks=("dominance",),
                                         select_on="trained")
    assert train_arguments(default)[:2] == ["--recipe", "default"]
    assert train_arguments(v5)[:2] == ["--recipe", "v5"]
    for corpora, tasks in [((("iemocap", "x"),), EAVD), ((("manifest", "x"),), EAVD),
                           ((*CORPORA, ("baved", "x")), EAVD), (CORPORA, EAVD[1:]), (CORPORA, EAVD[:3])]:
        assert build_train_config(corpora=corpora, out="r", tasks=tasks) == build_train_config(
            "v5", corpora=corpora, out="r", tasks=tasks), (corpora, tasks)
    # an explicit setting wins: none read out, another selection, dominance derived instead
    assert build_train_config(corpora=CORPORA, out="r", tasks=EAVD, readout_tasks=()) == v5
    assert build_train_config(corpora=CORPORA, out="r", tasks=EAVD, select_on="saved").select_on == "saved"
    derived = build_train_config(corpora=CORPORA, out="r", tasks=EAVD, derived_tasks=("dominance",))
    assert derived.model.readout_tasks == () and derived.select_on == "saved"


def test_v4_recipe_is_v5_with_one_head_and_no_mixup():
    """The fourth default, kept for the benchmark records made with it, differs from the fifth in
    exactly the two settings the fifth added; train_arguments names it as --recipe v4."""
    from kerasser.training.options import train_arguments

    v4 = build_train_config("v4", corpora=CORPORA, out="r", tasks=("emotion",))
    default = build_train_config("v5", corpora=CORPORA, out="r", tasks=("emotion",))
    assert v4.model.pool_heads == 1 and v4.augment.mixup_alpha == 0.0
    assert v4 == build_train_config("v5", corpora=CORPORA, out="r", tasks=("emotion",),
                                    pool_heads=1, augment_mixup_alpha=0.0)
    assert v4 != default and default.model.pool_heads == 4
    args = train_arguments(v4)
    assert args[:2] == ["--recipe", "v4"] and "--pool-heads" not in args and "--mixup" not in args


def test_overrides_and_none_keeps_the_recipe():
    config = build_train_config(
        corpora=CORPORA, out="r", learning_rate=3e-4, bidirectional=False, augment_noise_prob=0.5,
        label_smoothing=None, seed=4,
    )
    assert config.learning_rate == 3e-4 and not config.model.bidirectional
    assert config.augment.noise_prob == 0.5 and config.augment.speed == (0.9, 1.0, 1.1)
    assert config.label_smoothing == RECIPES["default"]["train"]["label_smoothing"] and config.seed == 4
    with pytest.raises(ValueError, match="unknown setting"):
        build_train_config(corpora=CORPORA, out="r", no_such_thing=1)
    with pytest.raises(ValueError, match="unknown recipe"):
        build_train_config("best", corpora=CORPORA, out="r")


def test_margin_needs_the_cosine_head():
    config = build_train_config(corpora=CORPORA, out="r", head="cosine", head_scale=20.0, margin=0.2)
    assert (config.model.head, config.model.head_scale, config.margin) == ("cosine", 20.0, 0.2)
    assert build_train_config(corpora=CORPORA, out="r").model.head == "softmax"
    with pytest.raises(SettingsError, match="needs the cosine head"):
        build_train_config(corpora=CORPORA, out="r", margin=0.2)
    with pytest.raises(SettingsError, match="margin must be"):
        build_train_config(corpora=CORPORA, out="r", head="cosine", margin=1.5)
    with pytest.raises(SettingsError, match="head must be one of"):
        build_train_config(corpora=CORPORA, out="r", head="arcface")
    with pytest.raises(SettingsError, match="head_scale"):
        build_train_config(corpora=CORPORA, out="r", head="cosine", head_scale=0.0)


def test_switching_front_end_switches_frame_geometry():
    raw = build_train_config(corpora=CORPORA, out="r", frontend="shared")
    assert raw.model.audio == AudioConfig()
    mel = build_train_config("paper", corpora=CORPORA, out="r", frontend="logmel")
    assert mel.model.audio.frame_length == 400


def test_config_json_round_trip(tmp_path):
    config = build_train_config(
        corpora=CORPORA, out="r", tasks=("arousal", "emotion"), augment_reverb_prob=0.3,
        speaker_splits=(("train", ("emodb:03",)), ("dev", ("emodb:08",)), ("test", ("emodb:09",))),
    )
    save_json(config, tmp_path / "config.json")
    assert load_train_config(tmp_path / "config.json") == config


def test_old_run_configs_still_load(tmp_path):
    """A config.json written before the recipe fields existed loads as the paper recipe."""
    old = {
        "corpora": [["emodb", "x"]], "out": "r", "loss_weights": None, "epochs": 25, "batch_size": 16,
        "learning_rate": 0.001, "patience": 15, "seed": 0, "train_splits": ["train"], "dev_split": "dev",
        "model": {"tasks": ["arousal"], "attention": True, "frontend": "shared", "conv_padding": "valid",
                  "conv_filters": 40, "conv_width": 40, "time_pool": 2, "channel_pool": 10, "dropout": 0.1,
                  "gru_units": 128, "gru_layers": 2, "l2": 0.0001,
                  "audio": {"sample_rate": 16000, "frame_length": 640, "frame_step": 160}},
    }
    (tmp_path / "config.json").write_text(json.dumps(old))
    config = load_train_config(tmp_path / "config.json")
    assert config.model == ModelConfig(tasks=("arousal",)) and config.optimizer == "adam"


def test_cli_choices_are_the_library_constants():
    """The CLI takes every choice list from the library (one home for each fact)."""
    from kerasser_cli.main import cli

    from kerasser import config, contract
    from kerasser.data import corpora
    from kerasser.serve import inference, writers
    from kerasser.training import recipes

    def choices(command: str, option: str) -> list[str]:
        param = next(p for p in cli.commands[command].params if option in p.opts)
        return list(param.type.choices)

    assert choices("train", "--recipe") == list(recipes.RECIPES)
    assert choices("crossval", "--frontend") == list(config.FRONTENDS)
    assert choices("train", "--feature-norm") == list(config.FEATURE_NORMS)
    assert choices("train", "--optimizer") == list(config.OPTIMIZERS)
    assert choices("train", "--schedule") == list(config.SCHEDULES)
    assert choices("train", "--head") == list(config.HEADS)
    assert choices("train", "--padding") == list(config.CONV_PADDINGS)
    assert choices("train", "--corpus") == list(corpora.READERS)
    assert choices("evaluate", "--split") == list(corpora.utterance.SPLITS)
    assert choices("export", "--quantize") == list(contract.QUANTIZATIONS)
    assert choices("label", "--variant") == list(contract.VARIANTS)  # float16 and dynamic included
    assert choices("label", "--backend") == list(inference.BACKENDS)
    assert choices("label", "--format") == list(writers.FORMATS)


def test_a_saved_fold_config_on_other_corpora_drops_the_fold_speakers():
    """``kerasser train --config RUN/config.json --corpus other``: a cross-validation fold's speaker
    splits name its own corpora's speakers; on other corpora every clip would be in no split."""
    fold = (("train", ("ravdess:01",)), ("dev", ("ravdess:17",)), ("test", ("emodb:03",)))
    base = build_train_config(corpora=(("emodb", "e"), ("ravdess", "r")), out="fold", tasks=("emotion",))
    base = dataclasses.replace(base, speaker_splits=fold)
    notes = []
    config = build_train_config(corpora=(("manifest", "mine.csv"),), out="mine", base=base, tasks=("emotion",),
                                note=notes.append)
    assert config.speaker_splits is None
    assert len(notes) == 1 and "fold speakers" in notes[0]
    same = build_train_config(corpora=base.corpora, out="again", base=base, tasks=("emotion",))
    assert same.speaker_splits == fold
