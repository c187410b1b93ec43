"""What ``--init-from`` names, read without TensorFlow: the source model's ``.keras`` file and the
model settings it was built with (so the fine-tuned model is built like it and its layers match).

A source is a run folder (``best.keras``, settings in ``config.json``), an exported model folder
or a shipped model's name (``model.keras``, settings in ``metadata.json``'s ``model``), or a
``.keras`` file (settings from the run or model folder it sits in, if any).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kerasser.config import ModelConfig, model_config_from_dict
from kerasser.contract import KERAS_FILE, METADATA_FILE
from kerasser.errors import SettingsError
from kerasser.serve.model_names import installed_models
from kerasser.training.runs import RunPaths

# Model settings a fine-tuned model takes from the recipe and its own data, not from the source:
# its tasks and the heads' classes, which dimensions are read off the emotion head (a property of
# the new corpora's labels), and the training-only heads (adversary, transcript).
FROM_NEW_DATA = ("tasks", "derived_tasks", "readout_tasks", "emotion_classes", "speakers", "text_vocabulary",
                 "speaker_adversarial", "adversary", "ctc_weight")


def source_model_file(source: str | os.PathLike) -> Path:
    """The ``.keras`` file of ``source`` (see the module docstring); SettingsError naming it if none."""
    path = Path(source).expanduser()
    if not path.exists():  # an installed model's name: exported/NAME, or the packaged copy
        path = installed_models().get(os.fspath(source), path)
    if path.is_file() and path.suffix == ".keras":
        return path
    for candidate in (RunPaths(path).best_model, path / KERAS_FILE):
        if candidate.is_file():
            return candidate
    raise SettingsError(f"{source}: not a run folder with best.keras, a model folder with {KERAS_FILE}, "
                        "a .keras file or a shipped model's name")


def source_model_config(source: str | os.PathLike) -> ModelConfig | None:
    """The ModelConfig ``source`` was built with (its run's ``config.json`` or its model folder's
    ``metadata.json``); None for a lone ``.keras`` file. SettingsError if ``source`` is no model."""
    folder = source_model_file(source).parent
    config, metadata = RunPaths(folder).config, folder / METADATA_FILE
    try:
        if config.is_file():
            return model_config_from_dict(json.loads(config.read_text())["model"])
        if metadata.is_file():
            return model_config_from_dict(json.loads(metadata.read_text())["model"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SettingsError(f"{folder}: its model settings could not be read ({error})") from None
    return None
