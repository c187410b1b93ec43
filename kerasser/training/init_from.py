"""Start a training run from a trained model's weights (``kerasser train --init-from``): fine-tuning
on a user's own recordings.

The source is a run folder (its ``best.keras``), an exported model folder or a shipped model's
name (its ``model.keras``), or a ``.keras`` file (``kerasser.training.init_source``); the new
model is built with the source's model settings (``build_train_config``). Every layer of the new model whose name and
weight shapes match a layer of the source takes the source's weights (the waveform
standardisation included, so the network sees its input scaled as it learned it); a head whose
classes differ (another emotion label space, a task the source lacks) keeps its fresh weights.
``freeze`` then stops training of the front end (``"frontend"``: everything before the GRUs) or
of the whole encoder (``"encoder"``: everything but the attention pooling and the heads); frozen
batch normalisation runs in inference mode. A lower learning rate is the caller's
(``--lr``).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import keras

from kerasser.errors import SettingsError
from kerasser.model.network import load_model, pooling_name
from kerasser.training.init_source import source_model_file

FREEZE = ("none", "frontend", "encoder")


def head_layers(model: keras.Model, tasks) -> set[str]:
    """The names of the layers that belong to the task heads (pooling and classifier) and the
    training-only heads (speaker adversary, transcript)."""
    names = {layer.name for layer in model.layers}
    heads = {n for t in tasks for n in (t, pooling_name(t))}
    return heads | {n for n in names if n.startswith(("speaker", "transcript"))}


def initialise(model: keras.Model, source: str | os.PathLike, tasks, freeze: str = "none",
               write: Callable[[str], None] = lambda line: None) -> None:
    """Copy the matching layers' weights of ``source`` into ``model`` and freeze as asked."""
    if freeze not in FREEZE:
        raise SettingsError(f"freeze must be one of {', '.join(FREEZE)}, not {freeze!r}")
    file = source_model_file(source)
    trained = {layer.name: layer for layer in load_model(file).layers}
    copied, fresh = [], []
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        other = trained.get(layer.name)
        theirs = other.get_weights() if other is not None else []
        if len(theirs) == len(weights) and all(a.shape == b.shape for a, b in zip(theirs, weights)):
            layer.set_weights(theirs)
            copied.append(layer.name)
        else:
            fresh.append(layer.name)
    if not copied:
        raise SettingsError(f"{file}: no layer matches the new model (another recipe or front end?)")
    heads = head_layers(model, tasks)
    frozen = []
    for layer in model.layers:
        recurrent = layer.name.startswith(("gru", "bigru"))
        if freeze == "none" or layer.name in heads or (freeze == "frontend" and recurrent) or not layer.weights:
            continue
        layer.trainable = False
        frozen.append(layer.name)
    write(f"initialised from {file}: {len(copied)} layers copied"
          + (f"; new: {', '.join(fresh)}" if fresh else "") + (f"; frozen: {len(frozen)} layers" if frozen else ""))
