"""A causal run's export (the tiny recipe's shape): ``step.tflite`` beside the other files, its
contract in metadata.json, checked against the offline model, and ``kerasser label -`` labelling
each piece with it."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from tiny import TINY_CAUSAL

from kerasser.config import ModelConfig, TrainConfig


@pytest.fixture(scope="module")
def causal_export(tmp_path_factory, emodb_small):
    from kerasser.export.exporter import export_run
    from kerasser.training.loop import train

    base = tmp_path_factory.mktemp("causal")
    run, out = base / "run", base / "exported"
    model = ModelConfig(tasks=("arousal", "emotion"), **TINY_CAUSAL)
    train(TrainConfig(corpora=(("manifest", str(emodb_small)),), out=str(run), model=model, epochs=1, batch_size=8),
          write=lambda line: None)
    export_run(run, out, quantize=("int8",), write=lambda line: None)
    return out


@pytest.mark.slow
def test_step_model_is_exported_checked_and_described(causal_export):
    from kerasser.contract import STEP_ROLE, read_metadata
    from kerasser.serve.stream import has_step_model, open_step_model

    md = read_metadata(causal_export)
    stream = md["stream"]
    assert stream["chunk_samples"] == 1600 and stream["state_size"] > 0
    assert sorted(stream["input_order"]) == ["chunk", "state"]
    assert sorted(stream["output_order"]) == sorted(["state", "arousal", "emotion"])
    assert md["files"][STEP_ROLE]["path"] == "step.tflite" and md["files"][STEP_ROLE]["sha256"]
    assert md["parity"]["step"]["max_abs_diff"] <= 1e-4 and md["parity"]["step"]["clips"] > 0
    card = (causal_export / "MODEL_CARD.md").read_text()
    assert "`step.tflite` runs it on 1600-sample (100 ms) chunks" in card and "- step: max |probability" in card
    assert has_step_model(causal_export)
    runner = open_step_model(causal_export)
    results = runner.push(np.zeros(1600 * 2 + 5, np.float32) + 0.01)
    assert len(results) == 2 and set(results[-1]) == {"arousal", "emotion"}
    assert abs(float(results[-1]["emotion"].sum()) - 1.0) < 1e-4


@pytest.mark.slow
def test_live_labelling_uses_the_step_model(causal_export, shared_data):
    from kerasser.serve.labeling import Labeler
    from kerasser.serve.stream import SteppedModel, stepped

    labeler = Labeler.load(causal_export)
    assert isinstance(stepped(labeler).model, SteppedModel)
    wave, rate = sf.read(sorted((shared_data / "emodb" / "wav").glob("*.wav"))[0], dtype="float32")
    buffer = io.BytesIO()
    sf.write(buffer, np.concatenate([np.zeros(rate, np.float32), wave, np.zeros(rate, np.float32)]), rate,
             format="WAV", subtype="PCM_16")
    done = subprocess.run([sys.executable, "-m", "kerasser_cli", "label", "-", "--model", str(causal_export),
                           "--format", "jsonl"], input=buffer.getvalue(), capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    rows = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert rows and all(not r["error"] for r in rows) and {"arousal", "emotion"} <= set(rows[0])
