"""``build_for_fit``: the train step is traced once (Keras would trace it twice, creating the
optimizer's slots in the first trace), and training gives the same weights as without it."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from tiny import TINY_LOGMEL

from kerasser.config import ModelConfig
from kerasser.model.network import build_model, compile_model
from kerasser.training.prebuild import build_for_fit

TASKS = ("arousal", "emotion")


def _dataset() -> tf.data.Dataset:
    rng = np.random.default_rng(0)
    n, samples = 6, 8000
    x = {"waveform": rng.normal(0, 0.1, (n, samples)).astype(np.float32), "length": np.full(n, samples, np.int32)}
    y = {"arousal": rng.integers(0, 3, n), "emotion": rng.integers(0, 7, n)}
    w = {t: np.ones(n, np.float32) for t in TASKS}
    return tf.data.Dataset.from_tensor_slices((x, y, w)).batch(3)


def _fit(prebuild: bool) -> tuple[keras.Model, int]:
    keras.utils.set_random_seed(1)
    model = build_model(ModelConfig(tasks=TASKS, **TINY_LOGMEL))
    compile_model(model, {t: 1.0 for t in TASKS}, 1e-3)
    dataset = _dataset()
    if prebuild:
        build_for_fit(model, dataset)
        assert model.optimizer.built
    traces, step = [], model.train_step
    model.train_step = lambda data: traces.append(1) or step(data)  # Python runs only when tracing
    model.fit(dataset, epochs=2, verbose=0, shuffle=False)
    return model, len(traces)


def test_the_train_step_is_traced_once_and_the_weights_are_the_same():
    built, traces = _fit(prebuild=True)
    lazy, lazy_traces = _fit(prebuild=False)
    assert traces == 1 and lazy_traces >= traces
    for a, b in zip(built.get_weights(), lazy.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_built_optimizer_is_left_alone():
    keras.utils.set_random_seed(1)
    model = build_model(ModelConfig(tasks=TASKS, **TINY_LOGMEL))
    compile_model(model, {t: 1.0 for t in TASKS}, 1e-3)
    model.optimizer.build(model.trainable_variables)
    count = len(model.optimizer.variables)
    build_for_fit(model, _dataset())
    assert len(model.optimizer.variables) == count
