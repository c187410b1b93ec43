"""TFLite conversion of other architectures and of the default one in miniature: builtins only,
parity with Keras at several lengths, int8 with chosen layers kept float."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from export_helpers import TINY, assert_parity

from kerasser.config import AudioConfig, ModelConfig

pytestmark = [
    pytest.mark.slow,
    # Keras warns when attention pools a single frame (eager input of <= 640 samples): expected here.
    pytest.mark.filterwarnings("ignore:You are using a softmax over axis:UserWarning"),
]


@pytest.mark.parametrize(
    "config",
    [
        dataclasses.replace(TINY, frontend="framed", conv_padding="same", gru_layers=2),
        dataclasses.replace(TINY, attention=False, head="cosine"),
        dataclasses.replace(TINY, frontend="logmel", audio=AudioConfig(frame_length=400), mel_bins=16,
                            block_channels=(8,), block_dilations=(1,), block_kernel=3, feature_norm="pcen"),
        dataclasses.replace(TINY, frontend="logmel", audio=AudioConfig(frame_length=400), mel_bins=16,
                            block_channels=(8,), block_dilations=(1,), block_kernel=3, mixstyle=0.5),
        dataclasses.replace(TINY, frontend="logmel", audio=AudioConfig(frame_length=400), mel_bins=16,
                            block_channels=(8,), block_dilations=(1,), block_kernel=3, norm_gate_db=30.0),
    ],
    ids=["framed-same-attention-2gru", "shared-laststep-cosine", "logmel-pcen", "logmel-mixstyle", "logmel-gated"],
)
def test_other_architectures_convert_with_builtins_only(tmp_path, config, rng):
    from kerasser.export.tflite import custom_ops, export_float32
    from kerasser.model.network import build_model, with_attention_outputs
    from kerasser.serve.inference import TFLiteRunner

    model = build_model(config)
    path = tmp_path / "model.tflite"
    assert custom_ops(export_float32(model, path)) == []
    runner = TFLiteRunner(path)
    reference = with_attention_outputs(model)
    for n in (1, 700, 3000):
        w = rng.normal(0, 0.1, n).astype(np.float32)
        ref = reference({"waveform": w[None], "length": np.array([n], np.int32)}, training=False)
        assert_parity({k: np.asarray(v)[0] for k, v in ref.items()}, runner(w))


# The default recipe's architecture in miniature (log-mel, SpecAugment, SE conv blocks, two frames
# per BiGRU step, 2-head attentive statistics).
TINY_DEFAULT = ModelConfig(
    tasks=("arousal", "emotion"), frontend="logmel", audio=AudioConfig(frame_length=400), mel_bins=16,
    block_channels=(8, 8), block_dilations=(1, 2), block_kernel=3, block_se=4, spec_time_masks=2,
    spec_freq_masks=2, gru_units=8, gru_layers=1, bidirectional=True, recurrent_stride=2, pool_heads=2,
    pool_statistics=True, l2=0.0,
)


def test_default_architecture_converts_with_builtins_only(tmp_path, rng):
    """float32: builtins only (RFFT2D for the spectrum), parity with Keras at several lengths, the
    attention output one weight per 25 ms frame; int8: runs, with the feature extraction float."""
    from kerasser.export.tflite import custom_ops, export_float32, export_int8, float_tensors, operator_names
    from kerasser.model.network import build_model, with_attention_outputs
    from kerasser.serve.inference import TFLiteRunner

    model = build_model(TINY_DEFAULT)
    content = export_float32(model, tmp_path / "model.tflite")
    ops = operator_names(content)
    assert custom_ops(content) == [] and not [op for op in ops if op.startswith("Flex")]
    assert {"RFFT2D", "LOG", "WHILE", "REVERSE_V2"} <= set(ops)
    runner = TFLiteRunner(tmp_path / "model.tflite")
    reference = with_attention_outputs(model)
    for n in (1, 700, 3000):
        w = rng.normal(0, 0.1, n).astype(np.float32)
        ref = reference({"waveform": w[None], "length": np.array([n], np.int32)}, training=False)
        out = runner(w)
        assert_parity({k: np.asarray(v)[0] for k, v in ref.items()}, out)
        assert out["arousal_attention"].shape == (TINY_DEFAULT.audio.num_frames(n),)

    kept = float_tensors(content)
    assert any("log_mel" in name for name in kept) and any("_pooling" in name for name in kept)
    clips = [rng.normal(0, 0.1, n).astype(np.float32) for n in (8000, 16000)]
    int8 = export_int8(model, tmp_path / "model_int8.tflite", clips)
    assert custom_ops(int8) == [] and "QUANTIZE" in operator_names(int8)
    quantised = TFLiteRunner(tmp_path / "model_int8.tflite")(clips[0])
    np.testing.assert_allclose(quantised["emotion"].sum(), 1.0, atol=1e-3)


def test_int8_float_layers_keep_more_layers_float(tmp_path, rng):
    """export_int8's float_layers: the convolution blocks, int8 by default, stay float32 when named
    (benchmarks/int8_layers.py's variants)."""
    from ai_edge_litert.interpreter import Interpreter

    from kerasser.export.tflite import FLOAT_LAYERS, export_int8
    from kerasser.model.network import build_model

    model = build_model(TINY_DEFAULT)
    clips = [rng.normal(0, 0.1, n).astype(np.float32) for n in (8000, 16000)]

    def block_dtypes(float_layers):
        path = tmp_path / "int8.tflite"
        export_int8(model, path, clips, float_layers=float_layers)
        details = Interpreter(model_path=str(path)).get_tensor_details()
        return {d["dtype"] for d in details if "block" in d["name"]}

    assert np.int8 in block_dtypes(FLOAT_LAYERS)
    assert np.int8 not in block_dtypes(FLOAT_LAYERS + ("block",))
