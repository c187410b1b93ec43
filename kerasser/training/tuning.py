"""Loss weights by random search on dev (Zhang et al. searched w_m): keras-tuner's RandomSearch
as a black-box optimiser over ``kerasser.training.loop.train``.

``tune_loss_weights(config, trials)`` trains one short run per trial under
``<config.out>/trial_<id>`` with weights drawn per task from 0.1, 0.2, ..., 1.0 (seeded), keeps
the trial with the best mean dev UAR, and writes ``<config.out>/results.json`` (every trial's
weights and score) and ``<config.out>/best_config.json``: the input configuration with the best
weights, which ``kerasser train --config`` starts from. Stopping and rerunning continues the
search (keras-tuner's own state lives in ``<config.out>/keras_tuner``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras_tuner

from kerasser.config import TrainConfig, save_json
from kerasser.errors import SettingsError
from kerasser.progress import Write, writer
from kerasser.training.runs import TUNE_BEST_CONFIG, TUNE_RESULTS, RunPaths, make_folder

OBJECTIVE = "mean_dev_uar"
WEIGHT_RANGE = (0.1, 1.0, 0.1)  # min, max, step of each task's w_m


def weight_name(task: str) -> str:
    return f"w_{task}"


class LossWeightSearch(keras_tuner.RandomSearch):
    """RandomSearch whose trial is one ``train`` run with the trial's loss weights."""

    def __init__(self, base: TrainConfig, write: Write, **kwargs):
        super().__init__(objective=keras_tuner.Objective(OBJECTIVE, "max"), **kwargs)
        self.base = base
        self.write = write

    def run_trial(self, trial, *args, **kwargs):
        from kerasser.training.loop import train

        hp = trial.hyperparameters
        low, high, step = WEIGHT_RANGE
        weights = tuple(round(hp.Float(weight_name(t), low, high, step=step), 6) for t in self.base.model.tasks)
        out = Path(self.base.out) / f"trial_{trial.trial_id}"
        config = dataclasses.replace(self.base, loss_weights=weights, out=str(out))
        self.write(f"trial {trial.trial_id}: loss weights {', '.join(f'{w:g}' for w in weights)}")
        result = train(config, resume=RunPaths(out).config.exists(), write=self.write)
        return {OBJECTIVE: float(result.best_dev_uar)}


def tune_loss_weights(config: TrainConfig, trials: int, write: Write | None = None) -> dict:
    """Search ``trials`` loss-weight settings for ``config`` (its ``out`` holds the trials);
    returns the results document also written to ``results.json``."""
    write = writer(write)
    if config.dev_split is None:
        raise SettingsError("the search picks weights on dev: give a dev split")
    if len(config.model.tasks) < 2:
        raise SettingsError("loss weights need two or more tasks")
    if config.learned_weights:
        raise SettingsError("the search draws the loss weights: leave out --loss-weights auto")
    out = Path(config.out)
    make_folder(out)
    tuner = LossWeightSearch(
        config, write, max_trials=trials, seed=config.seed, directory=str(out), project_name="keras_tuner",
        overwrite=False,
    )
    tuner.search(verbose=0)
    rows = []
    for trial in tuner.oracle.trials.values():
        score = trial.score
        rows.append({
            "trial": trial.trial_id,
            "loss_weights": [round(trial.hyperparameters.get(weight_name(t)), 6) for t in config.model.tasks],
            OBJECTIVE: None if score is None else float(score),
        })
    rows.sort(key=lambda r: (-1.0 if r[OBJECTIVE] is None else -r[OBJECTIVE], int(r["trial"])))  # best, then first
    best = rows[0]
    best_config = dataclasses.replace(config, loss_weights=tuple(best["loss_weights"]))
    save_json(best_config, out / TUNE_BEST_CONFIG)
    document = {"tasks": list(config.model.tasks), "objective": OBJECTIVE, "trials": rows, "best": best}
    (out / TUNE_RESULTS).write_text(json.dumps(document, indent=2) + "\n")
    return document


def format_results(document: dict) -> str:
    """One line per trial, best first."""
    tasks = document["tasks"]
    lines = [f"{'trial':<6} " + " ".join(f"{'w_' + t[:3]:>6}" for t in tasks) + f" {'dev UAR':>8}"]
    for row in document["trials"]:
        score = "" if row[OBJECTIVE] is None else f"{row[OBJECTIVE]:.1f}"
        lines.append(f"{row['trial']:<6} " + " ".join(f"{w:>6.1f}" for w in row["loss_weights"]) + f" {score:>8}")
    return "\n".join(lines)
