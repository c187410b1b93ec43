"""kerasser.serve.inference's TFLite backend runs where TensorFlow cannot be imported: a subprocess with
an import blocker for tensorflow and keras loads the tiny export and predicts real EmoDB clips;
its outputs must equal the Keras model's within 1e-4."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from export_helpers import TINY, keras_outputs  # tests/export/export_helpers.py

REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:You are using a softmax over axis:UserWarning"),
]

SCRIPT = r"""
import importlib.abc
import json
import sys

BLOCKED = {"tensorflow", "keras", "tf_keras", "tensorboard", "jax", "torch"}


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is not installed here (blocked by the test)")
        return None


sys.meta_path.insert(0, Blocker())
try:
    import tensorflow  # noqa: F401
except ImportError:
    pass
else:
    sys.exit("tensorflow could be imported: the blocker does not work")

import numpy as np

from kerasser.serve.inference import load_exported

model_dir, clips_path, out_path = sys.argv[1:4]
clips = np.load(clips_path)
waves = [clips[f"w{i}"] for i in range(len(clips.files))]
results = {}
for variant in ("float32", "int8"):
    model = load_exported(model_dir, variant=variant)
    for i, w in enumerate(waves):
        for name, value in model.predict(w).items():
            results[f"{variant}/{i}/{name}"] = value
np.savez(out_path, **results)
loaded = sorted({m.split(".")[0] for m in sys.modules} & BLOCKED)
print(json.dumps({"tasks": model.tasks, "sample_rate": model.sample_rate, "blocked_loaded": loaded,
                  "litert": "ai_edge_litert" in sys.modules}))
"""


def test_tflite_inference_without_tensorflow(emodb_tiny_export, emodb_small, tmp_path):
    from kerasser.data import audio
    from kerasser.data.corpora import read_manifest

    run, export = emodb_tiny_export
    waves = [audio.load(u.path) for u in read_manifest(emodb_small) if u.split == "test"][:4]
    waves += [waves[0][:1], waves[1][:900]]

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(REPO)  # kerasser from this checkout; nothing else added
    script, clips, outputs = tmp_path / "run_inference.py", tmp_path / "clips.npz", tmp_path / "out.npz"
    script.write_text(SCRIPT)
    np.savez(clips, **{f"w{i}": w for i, w in enumerate(waves)})
    proc = subprocess.run(
        [sys.executable, str(script), str(export), str(clips), str(outputs)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info["blocked_loaded"] == [] and info["litert"] is True
    assert info["sample_rate"] == 16000 and [t for t, _ in info["tasks"]] == list(TINY.tasks)

    out = np.load(outputs)
    for i, reference in enumerate(keras_outputs(run, waves)):
        for name, value in reference.items():
            got = out[f"float32/{i}/{name}"]
            assert got.shape == value.shape, name
            assert np.max(np.abs(got - value)) <= 1e-4, (i, name)
            if not name.endswith("_attention"):
                assert np.argmax(got) == np.argmax(value)
            assert out[f"int8/{i}/{name}"].shape == value.shape  # the quantised model runs too
