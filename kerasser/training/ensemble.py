"""Ensembles: several trained runs (e.g. seeds of one recipe) as one model that averages them.

``build_ensemble(models)`` returns one Keras functional model with the usual inputs
(``waveform``, ``length``) whose ``{task}`` outputs are the members' mean probabilities and, for
attention members, ``{task}_attention`` the members' mean attention weights. It exports like any
model (SavedModel, TFLite) and costs the members' inference time added up.

``make_ensemble_run(run_dirs, out)`` writes it as an ordinary run folder (``config.json`` of the
first member, ``best.keras``, ``state.json`` listing the members), so ``kerasser evaluate`` and
``kerasser export`` take it like any run.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path

import keras

from kerasser.config import save_json
from kerasser.errors import SettingsError
from kerasser.model.network import inference_model, require_waveform_only, with_attention_outputs
from kerasser.training.runs import (
    RunError,
    RunPaths,
    load_best_model,
    load_config,
    make_folder,
    read_state,
    write_json_atomic,
)


def build_ensemble(models: Sequence[keras.Model], name: str = "kerasser_ensemble") -> keras.Model:
    """One model averaging ``models``' class probabilities and attention (same inputs, same
    tasks; CTC heads are left out)."""
    if len(models) < 2:
        raise SettingsError("an ensemble needs at least two models")
    for m in models:
        require_waveform_only(m, "ensembles")
    models = [inference_model(m) for m in models]
    outputs = [sorted(m.output) for m in models]
    if any(o != outputs[0] for o in outputs):
        raise SettingsError(f"ensemble members predict different tasks: {outputs}")
    waveform = keras.Input((None,), name="waveform")
    length = keras.Input((), dtype="int32", name="length")
    inputs = {"waveform": waveform, "length": length}
    results = []
    for i, model in enumerate(models):
        probe = with_attention_outputs(model)
        member = keras.Model(probe.input, probe.output, name=f"member{i + 1}")
        results.append(member(inputs))
    averaged = {k: keras.layers.Average(name=k)([r[k] for r in results]) for k in results[0]}
    return keras.Model(inputs, averaged, name=name)


def make_ensemble_run(run_dirs: Sequence[str | os.PathLike], out: str | os.PathLike) -> Path:
    """Write the ensemble of ``run_dirs``' best models as a run folder at ``out``."""
    out = Path(out)
    if RunPaths(out).best_model.exists():
        raise RunError("a run is already there; pick another --out", path=out)
    configs = [load_config(r) for r in run_dirs]
    first = configs[0]
    for r, c in zip(run_dirs, configs):
        if c.model.tasks != first.model.tasks or c.model.audio != first.model.audio:
            raise RunError(f"its tasks or audio contract differ from {run_dirs[0]}'s", path=r)
    model = build_ensemble([load_best_model(r) for r in run_dirs])
    paths = RunPaths(out)
    make_folder(out)
    model.save(paths.best_model)
    save_json(dataclasses.replace(first, out=str(out)), paths.config)
    states = [read_state(RunPaths(Path(r))) or {} for r in run_dirs]
    write_json_atomic(paths.state, {
        "epoch": max(s.get("epoch", 0) for s in states),
        "best": float("nan"),
        "best_epoch": 0,
        "wait": 0,
        "members": [{"run": str(r), "seed": c.seed, "best_epoch": s.get("best_epoch"), "best_dev_uar": s.get("best")}
                    for r, c, s in zip(run_dirs, configs, states)],
    })
    RunPaths(out).ensemble_members.write_text(json.dumps({"members": [str(r) for r in run_dirs]}, indent=2) + "\n")
    return out
