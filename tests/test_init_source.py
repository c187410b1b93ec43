"""``--init-from``'s source read without TensorFlow: the fine-tuned model is built as the source
was, so that its layers match (``kerasser.training.init_source``, ``build_train_config``)."""

from __future__ import annotations

import json

import pytest

from kerasser.config import save_json
from kerasser.errors import SettingsError
from kerasser.training.recipes import build_train_config

MINE = (("manifest", "mine.csv"),)


@pytest.fixture
def tiny_run(tmp_path):
    """A run folder of the tiny recipe, as training leaves it (the weights file is not read here)."""
    run = tmp_path / "tiny-run"
    run.mkdir()
    trained = build_train_config("tiny", corpora=(("emodb", "e"), ("ravdess", "r")), out=str(run))
    save_json(trained, run / "config.json")
    (run / "best.keras").write_bytes(b"")
    return run, trained


def test_the_model_is_built_as_the_source_was_with_the_new_data_s_tasks(tiny_run):
    run, trained = tiny_run
    notes = []
    config = build_train_config(corpora=MINE, out="mine", tasks=("emotion", "arousal"), init_from=str(run),
                                note=notes.append)
    for name in ("block_channels", "block_separable", "causal", "mel_bins", "audio", "feature_norm", "gru_layers"):
        assert getattr(config.model, name) == getattr(trained.model, name), name
    assert config.model.tasks == ("emotion", "arousal")
    assert config.model.readout_tasks == ()  # a manifest's dimensions are its own labels, not the emotion's
    assert config.learning_rate == build_train_config(corpora=MINE, out="x").learning_rate  # training: the recipe's
    assert len(notes) == 1 and str(run) in notes[0] and "block_channels" in notes[0]


def test_explicit_model_options_still_win(tiny_run):
    run, _ = tiny_run
    config = build_train_config(corpora=MINE, out="mine", init_from=str(run), dropout=0.3)
    assert config.model.dropout == 0.3 and config.model.block_channels == (64, 96, 96, 96)


def test_an_exported_model_folder_gives_its_metadata_s_settings(tmp_path, tiny_run):
    _, trained = tiny_run
    export = tmp_path / "export"
    export.mkdir()
    (export / "model.keras").write_bytes(b"")
    model = json.loads((tiny_run[0] / "config.json").read_text())["model"]
    (export / "metadata.json").write_text(json.dumps({"model": {k: model[k] for k in model if k != "norm_gate_db"}}))
    config = build_train_config(corpora=MINE, out="mine", init_from=str(export))
    assert config.model.block_channels == trained.model.block_channels and config.model.norm_gate_db == 0.0


def test_a_lone_keras_file_keeps_the_recipe_and_a_missing_source_is_named(tmp_path):
    lone = tmp_path / "model.keras"
    lone.write_bytes(b"")
    assert build_train_config(corpora=MINE, out="mine", init_from=str(lone)).model == \
        build_train_config(corpora=MINE, out="mine").model
    with pytest.raises(SettingsError, match="nowhere"):
        build_train_config(corpora=MINE, out="mine", init_from=str(tmp_path / "nowhere"))
