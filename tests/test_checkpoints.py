"""Run-folder checkpoints written so that a crash at any moment leaves a consistent run: model files
renamed into place, the resume state inside ``last.keras``, metrics rows of unfinished epochs dropped."""

from __future__ import annotations

import keras
import numpy as np

from kerasser.training.runs import (
    RunPaths,
    checkpoint_state,
    read_state,
    save_model_atomic,
    trim_metrics,
    write_json_atomic,
)


def tiny_model():
    model = keras.Sequential([keras.Input([3]), keras.layers.Dense(2)])
    model.compile("adam", "mse")
    return model


def test_state_inside_the_checkpoint_wins_over_a_stale_state_json(tmp_path):
    paths = RunPaths(tmp_path)
    model = tiny_model()
    save_model_atomic(model, paths.last_model, {"epoch": 5, "best": 70.0})
    # killed after the checkpoint of epoch 5 was renamed into place, before state.json followed it
    write_json_atomic(paths.state, {"epoch": 4, "best": 60.0})
    assert checkpoint_state(paths.last_model) == {"epoch": 5, "best": 70.0}
    assert read_state(paths)["epoch"] == 5
    loaded = keras.saving.load_model(paths.last_model)  # Keras ignores the extra entry
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.keras", "state.json"]  # no temporary left


def test_state_json_alone_and_nothing(tmp_path):
    paths = RunPaths(tmp_path)
    assert read_state(paths) is None
    write_json_atomic(paths.state, {"epoch": 2})
    assert read_state(paths) == {"epoch": 2}  # a run from before the state was kept inside
    save_model_atomic(tiny_model(), paths.last_model)
    assert checkpoint_state(paths.last_model) is None and read_state(paths) == {"epoch": 2}
    paths.last_model.write_bytes(b"truncated")
    assert checkpoint_state(paths.last_model) is None


def test_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "best.keras"
    model = tiny_model()
    save_model_atomic(model, path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(model, "save", crash)
    try:
        save_model_atomic(model, path)
    except OSError:
        pass
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["best.keras"]


def test_trim_metrics_drops_epochs_not_checkpointed(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,loss\n0,1.5\n1,1.2\n2,1.1\n")
    trim_metrics(path, 2)
    assert path.read_text() == "epoch,loss\n0,1.5\n1,1.2\n"
    trim_metrics(path, 5)
    assert path.read_text() == "epoch,loss\n0,1.5\n1,1.2\n"
