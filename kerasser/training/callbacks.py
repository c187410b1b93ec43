"""The training loop's Keras callbacks: dev UAR after each epoch, the epoch line, the epoch seed of
the data pipeline, resumable early stopping, best/last checkpoints with the state --resume needs
(dropout seed counters included), and the average of the last epochs' weights."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kerasser.metrics import mean_uar, predict, score
from kerasser.model.uncertainty import STATE_KEY, UncertaintyWeighting, weight_key
from kerasser.training.runs import RunPaths, save_model_atomic, write_json_atomic

MONITOR = "val_uar"  # Keras names validation (dev) metrics val_*


class DevUAR(keras.callbacks.Callback):
    """After each epoch, add ``val_uar_<task>`` (dev UAR per task) and ``val_uar`` (their mean) to the
    logs: of ``scored`` when given (the model whose dev UAR picks the epoch, sharing the trained
    one's weights: ``TrainConfig.select_on``), else of the trained model."""

    def __init__(self, dataset, tasks: Sequence[str], scored: keras.Model | None = None,
                 classes: dict[str, tuple[str, ...]] | None = None):
        super().__init__()
        self.dataset = dataset
        self.tasks = tuple(tasks)
        self.scored = scored
        self.classes = classes  # each task's head classes (the emotion head's are the model's own)

    def on_epoch_end(self, epoch, logs=None):
        reports = score(*predict(self.scored or self.model, self.dataset, self.tasks), classes=self.classes)
        for t, r in reports.items():
            logs[f"{MONITOR}_{t}"] = r["uar"]
        logs[MONITOR] = mean_uar(reports)


class EpochLine(keras.callbacks.Callback):
    """One line per epoch on stderr: loss, dev UAR per task, learned loss weights, time."""

    def __init__(self, epochs: int, tasks: Sequence[str], write: Callable[[str], None]):
        super().__init__()
        self.epochs, self.tasks, self.write = epochs, tuple(tasks), write

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        line = f"epoch {epoch + 1}/{self.epochs}  loss {logs['loss']:.4f}"
        if MONITOR in logs:
            uars = " ".join(f"{t} {logs[f'{MONITOR}_{t}']:.1f}" for t in self.tasks)
            line += f"  dev UAR {uars}  mean {logs[MONITOR]:.1f}"
        if weight_key(self.tasks[0]) in logs:
            line += "  weights " + " ".join(f"{t} {logs[weight_key(t)]:.2f}" for t in self.tasks)
        self.write(f"{line}  ({time.monotonic() - self.start:.0f} s)")


class EpochSeed(keras.callbacks.Callback):
    """Tell the training pipeline which epoch begins (``kerasser.data.dataset.batched``'s ``epoch``), so
    its order and augmentation depend on the run's seed and the epoch only: a run resumed after a
    crash sees the same epochs as one that never stopped."""

    def __init__(self, epoch: tf.Variable):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch.assign(epoch)


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping that picks up its best value and patience counter from a resumed run."""

    def __init__(self, resume_state: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self.resume_state = resume_state

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.resume_state:
            self.best = self.resume_state["best"]
            self.best_epoch = self.resume_state["best_epoch"] - 1
            self.wait = self.resume_state["wait"]


SEED_STATES = "seed_states"  # state.json: the layers' random-seed counters (dropout masks)


def seed_states(model: keras.Model) -> list:
    """The model's ``SeedGenerator`` state variables, in a fixed order. A ``.keras`` file does not
    keep them (a loaded model starts new generators), so state.json does, for --resume."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def restore_seed_states(model: keras.Model, saved: list | None) -> None:
    """Put the counters ``SaveState`` wrote back into a model loaded from ``last.keras``."""
    variables = seed_states(model)
    if saved is None or len(saved) != len(variables):
        return  # a run from before they were kept: dropout masks differ from an unbroken run
    for variable, value in zip(variables, saved):
        variable.assign(np.asarray(value, dtype=variable.dtype))


class SaveBest(keras.callbacks.Callback):
    """Write ``best.keras`` (atomically; ``served`` when given, else the trained model) when the
    monitored value beats ``best``; every epoch when ``monitor`` is None (no dev split)."""

    def __init__(self, path: Path, monitor: str | None, best: float = -np.inf, served: keras.Model | None = None):
        super().__init__()
        self.path, self.monitor, self.best, self.served = path, monitor, best, served

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor) if self.monitor else None
        if self.monitor is None or (value is not None and value > self.best):
            if value is not None:
                self.best = float(value)
            save_model_atomic(self.served or self.model, self.path)


class SaveState(keras.callbacks.Callback):
    """After each epoch: ``last.keras`` with the state --resume needs inside it (epochs done, best
    dev UAR, early-stopping and dropout seed counters, learned loss weights' averages), in one
    atomic rename; then ``state.json``, a readable copy."""

    def __init__(self, paths: RunPaths, early: ResumableEarlyStopping | None, weighting: UncertaintyWeighting | None):
        super().__init__()
        self.paths, self.early, self.weighting = paths, early, weighting

    def on_epoch_end(self, epoch, logs=None):
        if self.early is None:  # no dev split: the last epoch is the one kept
            best, best_epoch, wait = float("nan"), epoch + 1, 0
        else:
            best, best_epoch, wait = float(self.early.best), int(self.early.best_epoch) + 1, int(self.early.wait)
        state = {"epoch": epoch + 1, "best": best, "best_epoch": best_epoch, "wait": wait,
                 SEED_STATES: [v.numpy().tolist() for v in seed_states(self.model)]}
        if self.weighting is not None:
            state[STATE_KEY] = dict(self.weighting.averages)
        save_model_atomic(self.model, self.paths.last_model, state)
        write_json_atomic(self.paths.state, state)


class WeightAverage(keras.callbacks.Callback):
    """Keep the weights of the last ``count`` epochs (in memory) and average them on request.
    Float weights (batch-norm statistics included) are averaged; integer state such as random
    seeds is taken from the last epoch. After a resume only the resumed epochs count."""

    def __init__(self, count: int):
        super().__init__()
        self.recent: collections.deque = collections.deque(maxlen=count)

    def on_epoch_end(self, epoch, logs=None):
        self.recent.append([np.array(w) for w in self.model.get_weights()])

    def averaged(self) -> list[np.ndarray]:
        return [
            np.mean(ws, axis=0).astype(ws[-1].dtype) if np.issubdtype(ws[-1].dtype, np.floating) else ws[-1]
            for ws in zip(*self.recent)
        ]
