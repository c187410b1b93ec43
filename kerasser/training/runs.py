"""A run folder: where training writes, and where evaluation and export read.

  config.json   the resolved TrainConfig (rebuilds the same model)
  metrics.csv   one row per epoch: losses and dev UAR per task (and learned loss weights, w_<task>)
  best.keras    the model of the epoch with the best mean dev UAR
  (every model file is written beside and renamed into place: a crash never leaves half a file)
  last.keras    the model after the last finished epoch, optimizer state included, and (inside
                the archive) the state that goes with it (for --resume)
  state.json    epochs done, best dev UAR, early-stopping counters, dropout seed counters and the
                loss averages behind learned loss weights (a readable copy; for --resume)
  learning_curves.png  training loss and dev UAR per task over the epochs
  eval_*.json   reports written by ``kerasser evaluate`` (eval_*_<task>.png: confusion matrices)
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import zipfile
from pathlib import Path

from kerasser.config import TrainConfig, load_train_config
from kerasser.errors import RunError


@dataclasses.dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def best_model(self) -> Path:
        return self.root / "best.keras"

    @property
    def average_model(self) -> Path:
        return self.root / "average.keras"

    @property
    def last_model(self) -> Path:
        return self.root / "last.keras"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    def eval_report(self, name: str) -> Path:
        return self.root / f"eval_{name}.json"

    def confusion_figure(self, name: str, task: str) -> Path:
        return self.root / f"eval_{name}_{task}.png"

    @property
    def learning_curves(self) -> Path:
        return self.root / "learning_curves.png"

    @property
    def fold_report(self) -> Path:
        """A cross-validation fold's scores (the fold's run folder)."""
        return self.root / "fold_report.json"

    @property
    def ensemble_members(self) -> Path:
        """The runs an ensemble run averages (``kerasser ensemble``)."""
        return self.root / "ENSEMBLE.json"


# The documents of the folders that hold several runs.
CROSSVAL_SUMMARY = "crossval.json"  # kerasser crossval: every fold's scores and their summary
TUNE_RESULTS = "results.json"  # kerasser tune: every trial's weights and score
TUNE_BEST_CONFIG = "best_config.json"  # kerasser tune: the input configuration with the best weights


def write_json_atomic(path: Path, data) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


# Inside last.keras (a zip archive; Keras ignores entries it does not know): the state that goes
# with exactly these weights. One atomic rename publishes both, so a crash between writing the
# checkpoint and state.json cannot pair epoch e's counters with epoch e+1's weights.
STATE_ENTRY = "kerasser_state.json"


def save_model_atomic(model, path: Path, state: dict | None = None) -> None:
    """``model.save`` to a temporary file beside ``path`` (with ``state`` added as
    :data:`STATE_ENTRY`), then rename it over ``path``: a crash leaves the old file or the new one."""
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.keras")
    try:
        model.save(tmp)
        if state is not None:
            with zipfile.ZipFile(tmp, "a") as archive:
                archive.writestr(STATE_ENTRY, json.dumps(state))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def checkpoint_state(path: Path) -> dict | None:
    """The state saved inside the checkpoint ``path`` by :func:`save_model_atomic`, if any."""
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(STATE_ENTRY))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def read_state(paths: RunPaths) -> dict | None:
    """The run's state: the copy inside ``last.keras`` (it always matches those weights), else
    ``state.json``; None before the first finished epoch."""
    if paths.last_model.exists():
        inside = checkpoint_state(paths.last_model)
        if inside is not None:
            return inside
    return json.loads(paths.state.read_text()) if paths.state.exists() else None


def load_config(run_dir: str | os.PathLike) -> TrainConfig:
    paths = RunPaths(Path(run_dir))
    if not paths.config.exists():
        raise RunError("not a run folder (no config.json)", path=run_dir)
    return load_train_config(paths.config)


def make_folder(path: str | os.PathLike) -> Path:
    """Create the output folder ``path`` (and its parents) if needed; RunError, naming it, when it
    is a file or cannot be made."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise RunError("exists and is not a folder", path=folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunError(f"cannot create the folder ({error.strerror or error})", path=folder) from None
    return folder


def load_best_model(run_dir: str | os.PathLike):
    """The run's best checkpoint as an uncompiled Keras model."""
    from kerasser.model.network import load_model

    paths = RunPaths(Path(run_dir))
    if not paths.best_model.exists():
        raise RunError("no best.keras yet (has a training epoch finished?)", path=run_dir)
    return load_model(paths.best_model)


def trim_metrics(path: Path, epochs: int) -> None:
    """Keep the rows of the first ``epochs`` epochs of ``metrics.csv``: a run killed after logging an
    epoch but before its checkpoint trains that epoch again, and must not log it twice."""
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = lines[:1] + [line for line in lines[1:] if line.split(",", 1)[0].isdigit() and int(line.split(",", 1)[0]) < epochs]
    if len(kept) != len(lines):
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(kept))
        os.replace(tmp, path)
