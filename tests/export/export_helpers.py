"""What the export tests share: the tiny model's configuration and the Keras reference outputs
(the session fixture that trains and exports it is ``emodb_tiny_export`` in conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tiny

from kerasser.config import ModelConfig

TINY = ModelConfig(tasks=("arousal", "emotion"), **tiny.TINY)
QUANTIZE = ("int8", "float16", "dynamic")
TOLERANCE = 1e-4  # the float formats' largest probability difference from Keras


def keras_outputs(run: Path, waves: list[np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Outputs of the run's best.keras (attention outputs added) per waveform, no batch axis."""
    import tensorflow as tf

    from kerasser.model.network import with_attention_outputs
    from kerasser.training.runs import load_best_model

    model = with_attention_outputs(load_best_model(run))
    spec = {"waveform": tf.TensorSpec([1, None], tf.float32), "length": tf.TensorSpec([1], tf.int32)}
    call = tf.function(lambda inputs: model(inputs, training=False), input_signature=[spec])
    outputs = []
    for w in waves:
        out = call({"waveform": w[None], "length": np.array([len(w)], np.int32)})
        outputs.append({k: v.numpy()[0] for k, v in out.items()})
    return outputs


def assert_parity(reference: dict, out: dict, tolerance: float = TOLERANCE) -> None:
    assert sorted(out) == sorted(reference)
    for name, ref in reference.items():
        assert out[name].shape == ref.shape, name
        assert np.max(np.abs(out[name] - ref)) <= tolerance, name
        if not name.endswith("_attention"):
            assert np.argmax(out[name]) == np.argmax(ref), name
