"""tf.distribute and mixed precision: a mirrored run over two logical CPU devices ends with the
weights of a one-device run; under mixed_float16 the model keeps float32 where it must, gives the
float32 model's outputs to float16 precision, trains, and loads back as float32."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import tiny  # noqa: E402

from kerasser.config import ModelConfig  # noqa: E402
from kerasser.errors import SettingsError  # noqa: E402
from kerasser.model.network import SIGNAL, as_float32, build_model, load_model  # noqa: E402
from kerasser.training import distribution  # noqa: E402

TINY_LOGMEL = ModelConfig(**tiny.TINY_LOGMEL, tasks=("arousal", "emotion"))
MIRRORED = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from kerasser.model.network import load_model
    from kerasser.training.recipes import build_train_config
    from kerasser.training.loop import train
    manifest, out = sys.argv[1], sys.argv[2]
    SMALL = dict(conv_filters=8, channel_pool=4, gru_units=8, gru_layers=1)  # the paper's layers, narrower
    weights = {}
    for strategy in ("default", "mirrored"):
        config = build_train_config("paper", corpora=(("manifest", manifest),), out=f"{out}/{strategy}",
                                    tasks=("arousal",), epochs=1, batch_size=8, strategy=strategy, dropout=0.0,
                                    dev_split="none", train_splits=("train", "dev"), **SMALL)
        lines = []
        train(config, write=lines.append)
        weights[strategy] = load_model(f"{out}/{strategy}/best.keras").get_weights()
        print(json.dumps({"strategy": strategy, "lines": lines}))
    diff = max(float(abs(a - b).max()) for a, b in zip(weights["default"], weights["mirrored"]))
    moved = max(float(abs(a).max()) for a in weights["default"])
    print(json.dumps({"diff": diff, "moved": moved}))
""")


def inputs():
    rng = np.random.default_rng(0)
    x = np.zeros((2, 16000), np.float32)
    x[0] = rng.normal(size=16000) * 0.3
    x[1, :8000] = rng.normal(size=8000) * 0.001  # quiet: a power spectrum float16 would flush to 0
    return {"waveform": x, "length": np.array([16000, 8000], np.int32)}


@pytest.fixture
def mixed_model(rng):
    reference = build_model(TINY_LOGMEL)
    with distribution.precision(True):
        mixed = build_model(TINY_LOGMEL)
    assert keras.config.dtype_policy().name == "float32"  # restored
    mixed.set_weights(reference.get_weights())
    return reference, mixed


def test_mixed_precision_outputs(mixed_model):
    reference, mixed = mixed_model
    policies = {layer.name: layer.dtype_policy.name for layer in mixed.layers}
    for name in ("standardize", "frame_padding", "log_mel", "feature_norm", "arousal", "emotion"):
        assert policies[name] == SIGNAL, name
    assert policies["block1"] == policies["bigru1"] == "mixed_float16"
    expected, got = reference(inputs()), mixed(inputs())
    for task in expected:
        assert got[task].dtype == "float32"
        np.testing.assert_allclose(np.asarray(got[task]), np.asarray(expected[task]), atol=5e-3)
        np.testing.assert_allclose(np.asarray(got[task]).sum(-1), 1.0, atol=1e-5)


def test_as_float32_and_load_model(mixed_model, tmp_path):
    reference, mixed = mixed_model
    path = tmp_path / "mixed.keras"
    mixed.save(path)
    loaded = load_model(path)
    assert {layer.dtype_policy.name for layer in loaded._flatten_layers()} == {"float32"}
    expected, got = reference(inputs()), loaded(inputs())
    for task in expected:
        np.testing.assert_allclose(np.asarray(got[task]), np.asarray(expected[task]), atol=1e-6)
    assert as_float32(reference) is reference
    assert {layer.dtype_policy.name for layer in load_model(path, compile=True)._flatten_layers()} >= {"mixed_float16"}


@pytest.mark.slow  # measured over 5 s on 2 busy cores (--durations)
def test_mixed_precision_training(emodb_small, tmp_path):
    from kerasser.training.loop import train
    from kerasser.training.recipes import build_train_config

    config = build_train_config("paper", corpora=(("manifest", str(emodb_small)),), out=str(tmp_path / "run"),
                                tasks=("arousal",), epochs=1, batch_size=8, mixed_precision=True,
                                conv_filters=8, channel_pool=4, gru_units=8, gru_layers=1)
    result = train(config, write=lambda line: None)
    assert np.isfinite(result.best_dev_uar)
    assert json.loads((tmp_path / "run" / "config.json").read_text())["mixed_precision"] is True
    model = load_model(tmp_path / "run" / "best.keras")
    assert {layer.dtype_policy.name for layer in model._flatten_layers()} == {"float32"}


def test_strategy_settings(monkeypatch):
    with pytest.raises(SettingsError, match="needs TF_CONFIG"):
        monkeypatch.delenv("TF_CONFIG", raising=False)
        distribution.make_strategy("multiworker")
    with pytest.raises(SettingsError, match="strategy must be one of"):
        from kerasser.config import TrainConfig

        TrainConfig(corpora=(), out="x", strategy="tpu")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}))
    assert distribution.worker_index() == 1
    assert distribution.run_folder("runs/x", "multiworker") == os.path.join("runs/x", "worker-1")
    assert distribution.run_folder("runs/x", "mirrored") == "runs/x"


@pytest.mark.slow
def test_mirrored_over_two_cpus_equals_one_device(emodb_small, tmp_path):
    """Two logical CPU devices share each batch; summed gradients give one device's weights."""
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(emodb_small), str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    reports = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert "mirrored strategy: 2 replicas share each batch of 8" in reports[1]["lines"]
    assert reports[-1]["moved"] > 1e-2  # training moved the weights ...
    assert reports[-1]["diff"] < 1e-6  # ... and both runs moved them the same way


MULTIWORKER = textwrap.dedent("""
    import json, sys
    from kerasser.training.recipes import build_train_config
    from kerasser.training.loop import train
    manifest, out = sys.argv[1], sys.argv[2]
    SMALL = dict(conv_filters=8, channel_pool=4, gru_units=8, gru_layers=1)  # the paper's layers, narrower
    config = build_train_config("paper", corpora=(("manifest", manifest),), out=out, tasks=("arousal",), epochs=1,
                                batch_size=8, strategy="multiworker", dropout=0.0, dev_split="none",
                                train_splits=("train", "dev"), **SMALL)
    lines = []
    result = train(config, write=lines.append)
    print(json.dumps({"lines": lines, "run": str(result.run_dir)}))
""")


def free_ports(n: int) -> list[int]:
    import socket

    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_local_workers_end_with_the_same_weights(emodb_small, tmp_path):
    """MultiWorkerMirroredStrategy, two processes on 127.0.0.1: the chief writes the run folder,
    worker 1 its own worker-1 folder, and both hold the same weights at the end."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in free_ports(2)]}
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen([sys.executable, "-c", MULTIWORKER, str(emodb_small), str(tmp_path / "run")],
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [w.communicate(timeout=600) for w in workers]
    for w, (_out, err) in zip(workers, outputs):
        assert w.returncode == 0, err[-3000:]
    reports = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    assert reports[0]["run"] == str(tmp_path / "run")
    assert reports[1]["run"] == str(tmp_path / "run" / "worker-1")
    assert "multiworker strategy: 2 replicas share each batch of 8" in reports[0]["lines"]
    chief = load_model(tmp_path / "run" / "best.keras").get_weights()
    other = load_model(tmp_path / "run" / "worker-1" / "best.keras").get_weights()
    assert max(float(np.abs(a - b).max()) for a, b in zip(chief, other)) < 1e-6
    assert max(float(np.abs(a).max()) for a in chief) > 1e-2
