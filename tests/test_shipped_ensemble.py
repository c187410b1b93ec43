"""The shipped ensemble ``exported/emodb-avde-ensemble``: the default recipe's seeds 0, 1 and 2
(trained like ``exported/emodb-avde``) averaged as one model.

Checked on the example clips, after the files' trip through git: its first member is the shipped
default model itself, its outputs are its members' mean, and its TFLite file gives what its Keras
file gives.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
ENSEMBLE = REPO / "exported" / "emodb-avde-ensemble"
DEFAULT = REPO / "exported" / "emodb-avde"
CLIPS = sorted((REPO / "examples").glob("*.wav"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (ENSEMBLE / "metadata.json").is_file(), reason="no shipped ensemble in this checkout"),
]


def _batch(waveforms: list) -> dict:
    """The clips zero-padded into one batch, with their lengths (the models mask the padding)."""
    batch = np.zeros((len(waveforms), max(len(w) for w in waveforms)), "float32")
    for i, w in enumerate(waveforms):
        batch[i, : len(w)] = w
    return {"waveform": batch, "length": np.array([len(w) for w in waveforms], "int32")}


@pytest.fixture(scope="module")
def models():
    from kerasser import load_model

    return load_model(ENSEMBLE / "model.keras"), load_model(DEFAULT / "model.keras")


@pytest.fixture(scope="module")
def waveforms():
    from kerasser import load_audio

    assert len(CLIPS) == 7
    return [load_audio(c) for c in CLIPS]


def test_metadata_names_three_seeds_of_the_shipped_recipe():
    meta = json.loads((ENSEMBLE / "metadata.json").read_text())
    default = json.loads((DEFAULT / "metadata.json").read_text())
    members = meta["training"]["ensemble"]
    assert [m["seed"] for m in members] == [0, 1, 2]
    assert [t for t, _ in _tasks(meta)] == [t for t, _ in _tasks(default)]


def _tasks(meta: dict) -> list:
    return [(t["name"], tuple(t["classes"])) for t in meta["tasks"]]


def test_first_member_is_the_shipped_default_and_outputs_are_the_members_mean(models, waveforms):
    ensemble, default = models
    inputs = _batch(waveforms)
    alone = default(inputs, training=False)
    each = [ensemble.get_layer(f"member{i}")(inputs, training=False) for i in (1, 2, 3)]
    together = ensemble(inputs, training=False)
    for task in ("emotion", "arousal", "valence", "dominance"):
        np.testing.assert_allclose(np.asarray(each[0][task]), np.asarray(alone[task]), atol=1e-5)
        mean = np.mean([np.asarray(e[task]) for e in each], axis=0)
        np.testing.assert_allclose(np.asarray(together[task]), mean, atol=1e-6)
    # three models, not one copied
    emotion = [np.asarray(e["emotion"]) for e in each]
    assert np.abs(emotion[1] - emotion[0]).max() > 1e-3 and np.abs(emotion[2] - emotion[1]).max() > 1e-3


def test_tflite_equals_keras(models, waveforms):
    from kerasser.serve.inference import load_exported

    ensemble, _ = models
    keras_out = ensemble(_batch(waveforms), training=False)
    lite = load_exported(ENSEMBLE)
    for i, waveform in enumerate(waveforms):
        lite_out = lite.predict(waveform)
        for task in ("emotion", "arousal", "valence", "dominance"):
            np.testing.assert_allclose(lite_out[task], np.asarray(keras_out[task])[i], atol=1e-4)
