"""The dynamic-range variant keeps the feature extraction in float (``kerasser.export.tflite.float_weights``).

Without it the converter stores the mel filterbank in int8, and the kernel then quantises its input,
a power spectrum spanning about 90 dB, on the fly: the log mel of quiet frames is lost."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _log_mel_module():
    import keras
    import tensorflow as tf

    from kerasser.export.tflite import FrozenServing
    from kerasser.model.layers import LogMelSpectrogram

    waveform = keras.Input((None,), name="waveform")
    model = keras.Model(waveform, LogMelSpectrogram(name="log_mel")(waveform))
    spec = tf.TensorSpec([1, None], tf.float32, name="waveform")
    return FrozenServing(model, lambda w: {"log_mel": model(w)}, [spec])


def _run(content: bytes, wave: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=content).get_signature_runner()(waveform=wave[None])["log_mel"][0]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    import tensorflow as tf

    from kerasser.export import tflite

    module = _log_mel_module()
    folder = tmp_path_factory.mktemp("dynamic")
    converter = tflite._converter(module)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return {"float32": tflite.export_float32(module, folder / "f.tflite"), "raw": converter.convert(),
            "dynamic": tflite.export_dynamic(module, folder / "d.tflite")}


def _loud_then_quiet(seconds: float = 1.0, rate: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    loud = 0.5 * np.sin(2 * np.pi * 220 * t)
    return np.concatenate([loud, 1e-3 * rng.normal(size=t.size)]).astype(np.float32)


def test_dynamic_variant_keeps_the_log_mel_of_quiet_frames(converted):
    wave = _loud_then_quiet()
    reference = _run(converted["float32"], wave)
    broken = np.abs(_run(converted["raw"], wave) - reference).max()
    kept = np.abs(_run(converted["dynamic"], wave) - reference).max()
    assert broken > 1.0  # the converter's own output loses quiet bins (natural-log units)
    assert kept < 1e-4  # the float32 filterbank, as in the float32 model


def test_float_weights_touches_only_the_named_layers(converted):
    from kerasser.export.tflite import float_weights

    wave = _loud_then_quiet()
    untouched = float_weights(converted["raw"], converted["float32"], layers=("no_such_layer",))
    np.testing.assert_array_equal(_run(untouched, wave), _run(converted["raw"], wave))
    assert len(converted["dynamic"]) > len(converted["raw"])  # the filterbank went back to float32
