"""A model whose dominance is read off its emotion head (``ModelConfig.derived_tasks``, or
``readout_tasks``: trained with a dominance head that is not saved) exports like any other:
builtin-only TFLite, its dominance the emotion probabilities summed per level in every format, its
dominance attention the emotion's."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from export_helpers import TINY

from kerasser.config import TrainConfig
from kerasser.tasks import emotion_groups

pytestmark = pytest.mark.slow


def export_tiny(base, emodb_small, quantize, **model):
    from kerasser.export.exporter import export_run
    from kerasser.training.loop import train

    model = dataclasses.replace(TINY, tasks=("emotion", "arousal", "dominance"), **model)
    config = TrainConfig(corpora=(("manifest", str(emodb_small)),), out=str(base / "run"), model=model, epochs=1,
                         batch_size=8)
    train(config, write=lambda line: None)
    export_run(base / "run", base / "export", quantize=quantize, write=lambda line: None)
    return base / "export"


def emotion_classes(export) -> tuple[str, ...]:
    """The exported emotion head's classes (the ones the tiny manifest labels)."""
    tasks = json.loads((export / "metadata.json").read_text())["tasks"]
    return tuple(next(t["classes"] for t in tasks if t["name"] == "emotion"))


@pytest.fixture(scope="module")
def derived_export(tmp_path_factory, emodb_small):
    return export_tiny(tmp_path_factory.mktemp("derived"), emodb_small, ("int8",), derived_tasks=("dominance",))


def test_a_read_out_task_exports_without_its_head(tmp_path, emodb_small, rng):
    from kerasser.serve.inference import load_exported

    export = export_tiny(tmp_path, emodb_small, (), readout_tasks=("dominance",))
    membership = np.eye(3)[list(emotion_groups("dominance", emotion_classes(export)))]
    wave = (0.1 * rng.normal(size=24000)).astype(np.float32)
    for backend in ("keras", "tflite"):
        out = load_exported(export, backend=backend).predict(wave)
        np.testing.assert_allclose(out["dominance"].reshape(-1), out["emotion"].reshape(-1) @ membership,
                                   atol=1e-5, err_msg=backend)
        np.testing.assert_array_equal(out["dominance_attention"], out["emotion_attention"])


def test_dominance_is_the_emotion_summed_per_level_in_every_format(derived_export, rng):
    from kerasser.serve.inference import load_exported

    metadata = json.loads((derived_export / "metadata.json").read_text())
    assert [t["name"] for t in metadata["tasks"]] == ["emotion", "arousal", "dominance"]
    assert metadata["tasks"][2]["attention_output"] == "dominance_attention"
    membership = np.eye(3)[list(emotion_groups("dominance", emotion_classes(derived_export)))]  # [emotions, levels]
    wave = (0.1 * rng.normal(size=24000)).astype(np.float32)
    for backend, variant in (("keras", "float32"), ("tflite", "float32"), ("tflite", "int8")):
        out = load_exported(derived_export, backend=backend, variant=variant).predict(wave)
        tolerance = 1e-2 if variant == "int8" else 1e-5
        np.testing.assert_allclose(out["dominance"].reshape(-1), out["emotion"].reshape(-1) @ membership,
                                   atol=tolerance, err_msg=f"{backend} {variant}")
        np.testing.assert_array_equal(out["dominance_attention"], out["emotion_attention"])
        assert not np.allclose(out["arousal_attention"], out["emotion_attention"])  # arousal has its own head


def test_the_tflite_models_use_builtin_ops_only(derived_export):
    from ai_edge_litert.interpreter import Interpreter

    for name in ("model.tflite", "model_int8.tflite"):
        interpreter = Interpreter(model_path=str(derived_export / name))
        ops = {op["op_name"] for op in interpreter._get_ops_details()}
        assert not any(op.startswith("Flex") or op == "CUSTOM" for op in ops), (name, sorted(ops))
