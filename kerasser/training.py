"""Training: read corpora, adapt standardisation, fit with dev-UAR checkpointing, resume.

``train(config)`` writes a run folder (see ``kerasser.runs``). Model selection and early stopping
use the mean dev UAR over the model's tasks, computed after every epoch by ``DevUAR``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import keras

from kerasser import dataset as data
from kerasser.config import TrainConfig, save_json
from kerasser.corpora import Utterance, read_corpus
from kerasser.evaluation import mean_uar, predict, score
from kerasser.model import NORMALIZATION, build_model, compile_model
from kerasser.runs import RunError, RunPaths, load_config, read_state, write_json_atomic

MONITOR = "val_uar"  # Keras names validation (dev) metrics val_*


def read_corpora(corpora: Sequence[tuple[str, str]]) -> list[Utterance]:
    """All utterances of the ``(reader, path)`` pairs, in order."""
    utterances: list[Utterance] = []
    for name, path in corpora:
        utterances.extend(read_corpus(name, path))
    return utterances


def select(
    utterances: Sequence[Utterance], splits: str | Sequence[str], tasks: Sequence[str]
) -> list[Utterance]:
    """Utterances of ``splits`` (one name or several) with a label for at least one of ``tasks``."""
    splits = (splits,) if isinstance(splits, str) else tuple(splits)
    return [u for u in utterances if u.split in splits and any(t in u.labels for t in tasks)]


def check_labels(utterances: Sequence[Utterance], tasks: Sequence[str], split: str) -> None:
    if not utterances:
        raise ValueError(f"no {split} utterances with labels for {', '.join(tasks)}")
    for t in tasks:
        if not any(t in u.labels for u in utterances):
            raise ValueError(f"no {split} utterance has a {t} label (drop the task or add a corpus)")


class DevUAR(keras.callbacks.Callback):
    """After each epoch, add ``val_uar_<task>`` (dev UAR per task) and ``val_uar`` (their mean) to the logs."""

    def __init__(self, dataset, tasks: Sequence[str]):
        super().__init__()
        self.dataset = dataset
        self.tasks = tuple(tasks)

    def on_epoch_end(self, epoch, logs=None):
        reports = score(*predict(self.model, self.dataset, self.tasks))
        for t, r in reports.items():
            logs[f"{MONITOR}_{t}"] = r["uar"]
        logs[MONITOR] = mean_uar(reports)


class EpochLine(keras.callbacks.Callback):
    """One line per epoch on stderr: loss, dev UAR per task, time."""

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
        self.write(f"{line}  ({time.monotonic() - self.start:.0f} s)")


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


class SaveState(keras.callbacks.Callback):
    """Write state.json after each epoch (after last.keras is saved): what --resume needs."""

    def __init__(self, paths: RunPaths, early: ResumableEarlyStopping | None):
        super().__init__()
        self.paths, self.early = paths, early

    def on_epoch_end(self, epoch, logs=None):
        if self.early is None:  # no dev split: the last epoch is the one kept
            best, best_epoch, wait = float("nan"), epoch + 1, 0
        else:
            best, best_epoch, wait = float(self.early.best), int(self.early.best_epoch) + 1, int(self.early.wait)
        write_json_atomic(
            self.paths.state, {"epoch": epoch + 1, "best": best, "best_epoch": best_epoch, "wait": wait}
        )


@dataclasses.dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    epochs_done: int
    best_epoch: int
    best_dev_uar: float


def adapt_normalization(model: keras.Model, examples) -> None:
    """Set the in-graph standardisation to the training audio's mean and variance."""
    model.get_layer(NORMALIZATION).adapt(data.waveforms(examples))


def prepare_run_folder(config: TrainConfig, resume: bool) -> tuple[RunPaths, dict | None]:
    paths = RunPaths(Path(config.out))
    state = read_state(paths)
    if resume:
        if state is None or not paths.last_model.exists():
            raise RunError(f"{config.out}: nothing to resume (no finished epoch there)")
        return paths, state
    if state is not None:
        raise RunError(f"{config.out}: a run is already there; pass --resume or another --out")
    paths.root.mkdir(parents=True, exist_ok=True)
    save_json(config, paths.config)
    return paths, None


def train(
    config: TrainConfig,
    resume: bool = False,
    write: Callable[[str], None] | None = None,
    epochs: int | None = None,
) -> TrainResult:
    """Train ``config`` into ``config.out``.

    With ``resume``, continue the run in ``config.out`` from its last finished epoch: its own
    saved config is used, except that ``epochs``, if given, raises or lowers the epoch budget.
    Progress lines go to ``write`` (default: stderr)."""
    write = write or (lambda line: print(line, file=sys.stderr, flush=True))
    if resume:
        config = load_config(config.out)
        if epochs is not None:
            config = dataclasses.replace(config, epochs=epochs)
    paths, state = prepare_run_folder(config, resume)
    if resume:
        save_json(config, paths.config)
    tasks = config.model.tasks
    keras.utils.set_random_seed(config.seed)

    utterances = read_corpora(config.corpora)
    train_utts = select(utterances, config.train_splits, tasks)
    check_labels(train_utts, tasks, "+".join(config.train_splits))
    dev_utts = []
    if config.dev_split is not None:
        dev_utts = select(utterances, config.dev_split, tasks)
        check_labels(dev_utts, tasks, config.dev_split)
    write(f"train {len(train_utts)} utterances, dev {len(dev_utts)}; tasks {', '.join(tasks)}")

    log = data.DecodeLog()
    train_examples = data.decoded(train_utts, tasks, log)
    train_ds = data.batched(train_examples, config.batch_size, training=True, seed=config.seed)

    if state:
        model = keras.saving.load_model(paths.last_model)
        initial_epoch = state["epoch"]
        write(f"resuming after epoch {initial_epoch} (best dev UAR {state['best']:.1f})")
    else:
        model = build_model(config.model)
        adapt_normalization(model, train_examples)
        compile_model(model, config.task_weights, config.learning_rate)
        initial_epoch = 0
    if initial_epoch >= config.epochs:
        write(f"nothing to do: {initial_epoch} of {config.epochs} epochs already done")

    callbacks = [EpochLine(config.epochs, tasks, write), keras.callbacks.CSVLogger(str(paths.metrics), append=bool(state))]
    early = None
    if dev_utts:
        dev_ds = data.make_dataset(dev_utts, tasks, config.batch_size, training=False, log=log)
        early = ResumableEarlyStopping(resume_state=state, monitor=MONITOR, mode="max", patience=config.patience)
        best = keras.callbacks.ModelCheckpoint(
            str(paths.best_model),
            monitor=MONITOR,
            mode="max",
            save_best_only=True,
            initial_value_threshold=state["best"] if state else None,
        )
        callbacks = [DevUAR(dev_ds, tasks), *callbacks, best, early]
    else:
        callbacks.append(keras.callbacks.ModelCheckpoint(str(paths.best_model)))
    callbacks += [keras.callbacks.ModelCheckpoint(str(paths.last_model)), SaveState(paths, early)]
    # Keras writes its progress bar to stdout; stdout is for data, so send it to stderr.
    # Datasets of unknown length end an epoch by running out, which Keras warns about.
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        model.fit(
            train_ds,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            verbose=1 if sys.stderr.isatty() else 0,
            shuffle=False,  # the dataset shuffles itself, seeded
        )
    final = read_state(paths) or {"epoch": initial_epoch, "best": float("nan"), "best_epoch": 0}
    if log.failed:
        write(f"warning: {len(log.failed)} file(s) could not be decoded and were skipped")
    if early is None:
        write(f"trained {final['epoch']} epochs without a dev split; model: {paths.best_model}")
    else:
        write(f"best mean dev UAR {final['best']:.1f} at epoch {final['best_epoch']}; model: {paths.best_model}")
    return TrainResult(paths.root, final["epoch"], final["best_epoch"], final["best"])
