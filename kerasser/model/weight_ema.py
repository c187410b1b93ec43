"""Polyak averaging of the weights during training (``TrainConfig.ema_momentum``).

Keras optimizers made with ``use_ema=True`` keep, beside each trainable weight, an exponential
moving average of its values (updated every step). ``SwapAveragedWeights`` exchanges the two sets
in place. Training puts one at the start of the epoch-end callbacks, so the dev scoring and
best.keras see the averaged weights, and one just before the resume checkpoint, so last.keras holds
the live weights (and the averages in its optimizer state) and training goes on from them.
(``keras.callbacks.SwapEMAWeights`` swaps back only at the next epoch's start, after the
checkpoint.)
"""

from __future__ import annotations

import keras


def averaging_optimizer(model: keras.Model):
    """The model's optimizer that keeps the averages (inside a loss-scale optimizer)."""
    optimizer = getattr(model.optimizer, "inner_optimizer", model.optimizer)
    if not getattr(optimizer, "use_ema", False):
        raise ValueError("the model's optimizer keeps no moving average of the weights (use_ema is off)")
    return optimizer


def swap_averaged_weights(model: keras.Model) -> None:
    """Exchange the model's trainable weights and the optimizer's moving averages, in place."""
    optimizer = averaging_optimizer(model)
    for weight, average in zip(optimizer._trainable_variables, optimizer._model_variables_moving_average):
        live = weight.numpy()
        weight.assign(average)
        average.assign(live)


class SwapAveragedWeights(keras.callbacks.Callback):
    """At each epoch's end, exchange the trained weights and their moving averages."""

    def on_epoch_end(self, epoch, logs=None):
        swap_averaged_weights(self.model)
