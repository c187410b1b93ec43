"""benchmarks/device.py's front-end model: the model cut after its log-mel layer, converted to TFLite,
gives that layer's output (the figure "where a clip's time goes" times it)."""

from __future__ import annotations

import numpy as np
import pytest
from benchmark_scripts import load_benchmark
from tiny import TINY_LOGMEL

from kerasser.config import ModelConfig

pytestmark = pytest.mark.slow


def test_front_end_model_gives_the_log_mel_layers_output(tmp_path, rng):
    import keras
    from ai_edge_litert.interpreter import Interpreter

    from kerasser.model.network import build_model

    device = load_benchmark("device")
    model = build_model(ModelConfig(tasks=("arousal",), **TINY_LOGMEL))
    (tmp_path / "m").mkdir()
    model.save(tmp_path / "m" / "model.keras")
    path = device.front_end_file(tmp_path / "m", tmp_path)
    wave = rng.normal(0, 0.1, 4000).astype(np.float32)
    features = keras.Model(model.input, model.get_layer("log_mel").output)
    expected = np.asarray(features({"waveform": wave[None], "length": np.array([4000], np.int32)}))
    got = Interpreter(model_path=str(path)).get_signature_runner()(waveform=wave[None])["log_mel"]
    np.testing.assert_allclose(got, expected, atol=1e-4)
    (tmp_path / "none").mkdir()
    assert device.front_end_file(tmp_path / "none", tmp_path) is None  # no model.keras: no figure
