"""The tiny recipe for devices (issue 45): what it builds, its size, and that its int8 export runs
the encoder in integer kernels only (float32 only where FLOAT_LAYERS says: front end, pooling)."""

from __future__ import annotations

import numpy as np
import pytest

from kerasser.training.recipes import RECIPES, build_train_config

CORPORA = (("emodb", "data/emodb"),)
EAVD = ("emotion", "arousal", "valence", "dominance")


def tiny_model():
    from kerasser.model.network import build_model, read_from_emotion

    m = build_train_config("tiny", corpora=CORPORA, out="r", tasks=EAVD).model
    return read_from_emotion(build_model(m), m.readout_tasks, m.emotion_classes)


def test_tiny_recipe_is_causal_separable_and_conv_only():
    config = build_train_config("tiny", corpora=CORPORA, out="r", tasks=EAVD)
    m = config.model
    assert m.causal and m.block_separable and m.gru_layers == 0 and m.feature_norm == "none"
    assert m.audio.frame_length % m.audio.frame_step == 0  # the stream's frames fall on the offline ones
    assert m.readout_tasks == ("dominance",)  # read off the emotion head on EmoDB, as the default
    assert config.train_splits == ("train",) and config.augment == build_train_config(
        "default", corpora=CORPORA, out="r").augment  # the default's training and augmentation
    assert "tiny" in RECIPES


def test_tiny_model_has_under_80_thousand_parameters():
    model = tiny_model()
    assert 40_000 < model.count_params() < 80_000


@pytest.mark.slow
def test_tiny_int8_export_is_small_and_its_encoder_runs_in_int8(tmp_path):
    from kerasser.export.tflite import export_int8, kernels

    rng = np.random.default_rng(0)
    content = export_int8(tiny_model(), tmp_path / "m.tflite", [rng.normal(scale=0.1, size=16000) for _ in range(4)])
    assert len(content) <= 200 * 1024
    found = kernels(content)
    encoder = [(op, dtype) for op, dtype, name in found if "/block" in name]
    assert len(encoder) >= 8 and all(dtype == "int8" for _, dtype in encoder), encoder
    heads = [dtype for op, dtype, name in found if any(f"/{t}_1/" in name for t in ("arousal", "valence", "emotion"))]
    assert heads and all(dtype == "int8" for dtype in heads)
