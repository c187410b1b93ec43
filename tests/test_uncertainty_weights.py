"""--loss-weights auto: the uncertainty-weighting rule (Kendall et al., 2018) by hand, its callback
on a tiny synthetic two-task model, resume and best.keras, the config and command line, and one
short real training."""

from __future__ import annotations

import csv
import json
import math
import shlex

import keras
import numpy as np
import pytest
import tiny

from kerasser.config import ModelConfig, TrainConfig, load_train_config, save_json
from kerasser.errors import SettingsError
from kerasser.model.network import compile_model
from kerasser.model.uncertainty import (
    MIN_LOSS,
    UncertaintyWeighting,
    log_variance,
    moving_average,
    task_weight,
)
from kerasser.training.options import train_arguments
from kerasser.training.recipes import build_train_config

TASKS = ("easy", "hard")
TINY = ModelConfig(tasks=("arousal", "emotion"), **tiny.TINY)


# --- the rule -----------------------------------------------------------------------------------


def test_update_rule_by_hand():
    average = moving_average(None, 2.0)  # the first batch starts the average
    assert average == 2.0
    average = moving_average(average, 1.0, decay=0.9)  # 0.9 * 2 + 0.1 * 1
    assert average == pytest.approx(1.9)
    assert log_variance(average) == pytest.approx(math.log(3.8))
    assert task_weight(average) == pytest.approx(1 / 3.8)
    assert task_weight(None) == 1.0
    assert task_weight(0.0) == pytest.approx(1 / (2 * MIN_LOSS))


@pytest.mark.parametrize("loss", [0.3, 1.0, 1.9])
def test_log_variance_minimises_kendalls_objective(loss):
    s = np.linspace(-5, 5, 100001)
    objective = np.exp(-s) * loss + s / 2
    assert log_variance(loss) == pytest.approx(s[np.argmin(objective)], abs=1e-3)


# --- the callback on a tiny synthetic model -----------------------------------------------------


def two_task_model(learned=TASKS) -> keras.Model:
    """x [4] -> Dense(8) -> an ``easy`` head (2 classes, the sign of x[0]) and a ``hard`` one (5)."""
    x = keras.Input((4,), name="x")
    h = keras.layers.Dense(8, activation="relu")(x)
    outputs = {t: keras.layers.Dense(n, activation="softmax", name=t)(h) for t, n in zip(TASKS, (2, 5))}
    model = keras.Model(x, outputs)
    compile_model(model, dict.fromkeys(TASKS, 1.0), 1e-2, learned=learned)
    return model


def synthetic_data(rng):
    """``easy`` labels follow x; ``hard`` ones are noise, so its loss stays near log 5."""
    x = rng.normal(size=(256, 4)).astype("float32")
    return x, {"easy": (x[:, 0] > 0).astype("int32"), "hard": rng.integers(0, 5, 256).astype("int32")}


def test_weights_move_towards_the_relative_task_losses(rng):
    model = two_task_model()
    x, y = synthetic_data(rng)
    history = model.fit(x, y, batch_size=32, epochs=4, callbacks=[UncertaintyWeighting(TASKS)], verbose=0).history
    easy, hard = history["w_easy"][-1], history["w_hard"][-1]
    assert hard < 0.5 < easy and abs(easy - 1.0) > 0.05  # the larger loss ends with the smaller weight
    assert hard == pytest.approx(1 / (2 * math.log(5)), rel=0.1)
    # the logged task losses are unweighted: near log 5, not w_hard * log 5
    assert history["hard_loss"][-1] == pytest.approx(math.log(5), rel=0.05)
    assert history["easy_loss"][-1] < history["easy_loss"][0]


def test_average_is_per_labelled_example_and_unlabelled_batches_keep_the_weight(rng):
    model = two_task_model()
    callback = UncertaintyWeighting(TASKS)
    callback.set_model(model)
    callback.on_train_begin()
    callback.on_epoch_begin(0)
    p = {"easy": np.array([[0.8, 0.2], [0.4, 0.6], [0.5, 0.5], [0.5, 0.5]], "float32"),
         "hard": np.full((4, 5), 0.2, "float32")}
    labels = {"easy": np.array([0, 1, 0, 1]), "hard": np.array([0, 1, 2, 3])}
    for t in TASKS:  # what a training step does: the loss of a batch whose first two examples are labelled
        model.loss[t](labels[t], p[t], sample_weight=np.array([1.0, 1.0, 0.0, 0.0], "float32"))
    callback.on_train_batch_end(0)
    easy = -(math.log(0.8) + math.log(0.6)) / 2
    assert callback.averages["easy"] == pytest.approx(easy, rel=1e-5)
    assert callback.averages["hard"] == pytest.approx(math.log(5), rel=1e-5)
    assert float(model.loss["easy"].scale.numpy()) == pytest.approx(1 / (2 * easy), rel=1e-5)

    for t in TASKS:  # a batch without labels for the task: its weight stays
        model.loss[t](labels[t], p[t], sample_weight=np.zeros(4, "float32"))
    callback.on_train_batch_end(1)
    assert callback.averages["easy"] == pytest.approx(easy, rel=1e-5)
    logs = {}
    callback.on_epoch_end(0, logs)
    assert logs["w_easy"] == pytest.approx(1 / (2 * easy), rel=1e-5)
    assert logs["easy_loss"] == pytest.approx(easy / 4, rel=1e-5)  # Keras's reduction: over all 8 examples


def test_resumed_weights_apply_to_a_reloaded_model_and_best_keras_stays_plain(rng, tmp_path):
    import kerasser

    model = two_task_model()
    weights = len(model.weights)
    x, y = synthetic_data(rng)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # built and trained, as last.keras would be
    model.save(tmp_path / "last.keras")
    resumed = keras.saving.load_model(tmp_path / "last.keras")
    plain = resumed.evaluate(x, y, batch_size=256, return_dict=True, verbose=0)
    callback = UncertaintyWeighting(TASKS, averages={"easy": 2.0, "hard": 0.5})  # as state.json keeps them
    callback.set_model(resumed)
    callback.on_train_begin()
    assert callback.weights() == {"easy": pytest.approx(0.25), "hard": pytest.approx(1.0)}
    weighted = resumed.evaluate(x, y, batch_size=256, return_dict=True, verbose=0)
    assert weighted["easy_loss"] == pytest.approx(0.25 * plain["easy_loss"], rel=1e-5)
    assert weighted["hard_loss"] == pytest.approx(plain["hard_loss"], rel=1e-5)

    best = kerasser.load_model(tmp_path / "last.keras")
    assert list(best.output) == list(TASKS) and len(best.weights) == weights


def test_a_model_without_learned_weights_is_refused():
    callback = UncertaintyWeighting(TASKS)
    callback.set_model(two_task_model(learned=("easy",)))
    with pytest.raises(SettingsError, match="not compiled with learned loss weights for hard"):
        callback.on_train_begin()


# --- configuration and command line -------------------------------------------------------------


def test_config_json_round_trip_with_auto(tmp_path):
    config = TrainConfig(corpora=(("emodb", "data/emodb"),), out="runs/x", model=TINY, loss_weights="auto")
    save_json(config, tmp_path / "config.json")
    assert json.loads((tmp_path / "config.json").read_text())["loss_weights"] == "auto"
    assert load_train_config(tmp_path / "config.json") == config
    assert config.learned_weights and config.task_weights == {"arousal": 1.0, "emotion": 1.0}
    with pytest.raises(SettingsError, match="numbers or 'auto'"):
        TrainConfig(corpora=(), out="x", model=TINY, loss_weights="learned")


def config_from_arguments(args: list[str]) -> TrainConfig:
    """What `kerasser train ARGS` builds (click parses them; nothing is trained)."""
    from kerasser_cli.main import cli
    from kerasser_cli.options import corpus_pairs
    from kerasser_cli.train_options import recipe_overrides

    params = dict(cli.commands["train"].make_context("train", list(args)).params)
    corpus, data, out = params.pop("corpus"), params.pop("data"), params.pop("out")
    params.pop("resume"), params.pop("config_file")
    return build_train_config(corpora=corpus_pairs(corpus, data), out=out, **recipe_overrides(params))


@pytest.mark.parametrize("text", ["auto", "Auto"])
def test_cli_parses_auto_and_train_arguments_round_trip(text):
    args = ["--corpus", "emodb", "--data", "data/emodb", "--tasks", "a,e", "--out", "runs/auto"]
    config = config_from_arguments([*args, "--loss-weights", text])
    assert config.loss_weights == "auto"
    assert "--loss-weights auto" in shlex.join(train_arguments(config))
    assert config_from_arguments(train_arguments(config)) == config
    assert config_from_arguments([*args, "--loss-weights", "1,0.5"]).loss_weights == (1.0, 0.5)


def test_a_saved_auto_config_keeps_auto_for_other_tasks():
    base = TrainConfig(corpora=(("emodb", "x"),), out="r", model=TINY, loss_weights="auto")
    config = build_train_config(corpora=base.corpora, out="r", base=base, tasks=("arousal", "valence", "emotion"))
    assert config.loss_weights == "auto"


def test_tune_refuses_learned_weights(tmp_path):
    from kerasser.training.tuning import tune_loss_weights

    config = TrainConfig(corpora=(("emodb", "x"),), out=str(tmp_path / "tune"), model=TINY, loss_weights="auto")
    with pytest.raises(SettingsError, match="leave out --loss-weights auto"):
        tune_loss_weights(config, trials=1, write=lambda line: None)


# --- a short real training ----------------------------------------------------------------------


@pytest.mark.slow
def test_training_with_auto_weights_logs_persists_and_resumes(emodb_small, tmp_path):
    import kerasser
    from kerasser.training.loop import train
    from kerasser.training.runs import RunPaths

    config = TrainConfig(corpora=(("manifest", str(emodb_small)),), out=str(tmp_path / "run"), model=TINY,
                         loss_weights="auto", epochs=1, batch_size=8, learning_rate=1e-3)
    lines = []
    train(config, write=lines.append)
    paths = RunPaths(tmp_path / "run")
    with open(paths.metrics) as f:
        row = next(csv.DictReader(f))
    state = json.loads(paths.state.read_text())
    for t in TINY.tasks:
        w = float(row[f"w_{t}"])
        assert np.isfinite(w) and w != 1.0
        assert w == pytest.approx(task_weight(state["loss_averages"][t]))
    assert any("weights arousal" in line for line in lines)
    best = kerasser.load_model(paths.best_model)
    assert set(best.output) == set(TINY.tasks)

    train(config, resume=True, epochs=2, write=lambda line: None)
    with open(paths.metrics) as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["0", "1"] and all(r["w_emotion"] for r in rows)
    assert json.loads(paths.state.read_text())["loss_averages"].keys() == set(TINY.tasks)
