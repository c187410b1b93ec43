"""Polyak averaging (``TrainConfig.ema_momentum``, ``kerasser.model.weight_ema``): the swap callbacks
give epoch-end callbacks the moving average Keras keeps (first step copied, then
m * average + (1 - m) * weight), a run saves the averaged weights as best.keras and the live ones
(with the averages in the optimizer state) as last.keras, and the settings are checked."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasser.config import ModelConfig, TrainConfig
from kerasser.errors import SettingsError
from kerasser.model.weight_ema import SwapAveragedWeights, swap_averaged_weights
from kerasser.training.runs import RunPaths


def tiny_regression(momentum: float) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(0.1, use_ema=True, ema_momentum=momentum), loss="mse")
    return model


class Recorder(keras.callbacks.Callback):
    """The kernel after every step (live) and what the epoch-end callbacks between the swaps see."""

    def __init__(self):
        super().__init__()
        self.live, self.seen = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.live.append(self.model.get_weights()[0].copy())

    def on_epoch_end(self, epoch, logs=None):
        self.seen.append(self.model.get_weights()[0].copy())


def test_epoch_end_callbacks_see_the_moving_average(rng):
    model = tiny_regression(0.7)
    recorder = Recorder()
    x = rng.normal(size=(16, 3)).astype("float32")
    model.fit(x, np.ones((16, 2), "float32"), batch_size=4, epochs=2, verbose=0,
              callbacks=[SwapAveragedWeights(), recorder, SwapAveragedWeights()])
    average = recorder.live[0]
    expected = []
    for step, live in enumerate(recorder.live[1:], start=2):
        average = 0.7 * average + 0.3 * live
        if step % 4 == 0:  # 4 steps an epoch
            expected.append(average)
    np.testing.assert_allclose(recorder.seen, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(recorder.seen[-1], recorder.live[-1])  # the average is not the live weights


def test_swapping_twice_changes_nothing(rng):
    model = tiny_regression(0.5)
    model.fit(rng.normal(size=(8, 3)).astype("float32"), np.ones((8, 2), "float32"), batch_size=4, verbose=0)
    # fit ends by copying the averages into the model: make the weights differ from them
    model.set_weights([rng.normal(size=w.shape).astype("float32") for w in model.get_weights()])
    before = [w.copy() for w in model.get_weights()]
    swap_averaged_weights(model)
    assert not all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    swap_averaged_weights(model)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_swap_needs_an_averaging_optimizer():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="moving average"):
        swap_averaged_weights(model)


@pytest.mark.parametrize("kwargs", [dict(ema_momentum=1.0), dict(ema_momentum=-0.1),
                                    dict(ema_momentum=0.99, average_last=5)])
def test_bad_settings_are_rejected(kwargs):
    with pytest.raises(SettingsError):
        TrainConfig(corpora=(("emodb", "data"),), out="run", **kwargs)


@pytest.mark.slow
def test_run_saves_averaged_best_and_live_last(emodb_small, tmp_path):
    """No dev split: best.keras is written every epoch, from the averaged weights; last.keras holds
    the live weights, and its optimizer the averages, which resume goes on from."""
    from kerasser.training.loop import train

    config = TrainConfig(
        corpora=(("manifest", str(emodb_small)),), out=str(tmp_path / "run"), dev_split=None,
        model=ModelConfig(conv_filters=10, channel_pool=10, gru_units=8, gru_layers=1),
        epochs=1, batch_size=4, learning_rate=1e-2, ema_momentum=0.6,
    )
    train(config, write=lambda line: None)
    paths = RunPaths(tmp_path / "run")
    best = keras.saving.load_model(paths.best_model, compile=False)
    last = keras.saving.load_model(paths.last_model)
    optimizer = last.optimizer
    assert optimizer.use_ema and optimizer.ema_momentum == pytest.approx(0.6)
    by_path = {v.path: np.asarray(v) for v in best.trainable_variables}
    averages = {w.path: np.asarray(a) for w, a in zip(optimizer._trainable_variables,
                                                     optimizer._model_variables_moving_average)}
    live = {v.path: np.asarray(v) for v in last.trainable_variables}
    assert set(averages) == set(by_path) == set(live)
    for name, saved in by_path.items():
        np.testing.assert_allclose(saved, averages[name], rtol=1e-6, atol=1e-7)
    assert any(not np.allclose(by_path[n], live[n]) for n in live)
