"""Learned loss weights (``--loss-weights auto``): uncertainty weighting of the task losses
(Kendall, Gal & Cipolla, CVPR 2018).

Kendall et al. give each classification task m a log variance s_m, learned with the network, and
minimise ``sum_m exp(-s_m) L_m + s_m / 2``. For a given task loss L_m that is smallest at
``s_m = log(2 L_m)``: task m's weight is ``w_m = exp(-s_m) = 1 / (2 L_m)``, so a task with a larger
loss gets a smaller weight (and every weighted task loss is about 1/2).

``UncertaintyWeighting`` sets s_m to that minimum after every training batch, for an exponential
moving average of task m's batch losses, instead of taking gradient steps on s_m. Steps would
move s_m by about the network's learning rate each (Adam), and the recipes' rates start at 0
(warm-up), end at 0 (cosine decay) or stay at 1e-4 (paper): s_m would hardly leave 0 without a
learning rate and schedule of its own. The minimum is where those steps lead; the average (over
about the last 20 batches: one EmoDB epoch at batch size 16) keeps one batch from swinging the
weights, and a weight is always set from batches before the one it weighs. s_m also stays out of
the model's weights, so best.keras is the same plain model as with fixed weights.

The average is of the loss per labelled example (an utterance without the task's label has
sample weight 0): a task's uncertainty does not depend on how many utterances carry its label, and
a batch without any leaves its weight alone. Only the tasks' losses are weighted so; a CTC or
speaker head keeps its given weight. Each epoch's weights go into the logs as ``w_<task>``
(metrics.csv and the epoch line), the averages into state.json (``STATE_KEY``) for --resume.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np

from kerasser.errors import SettingsError
from kerasser.model.losses import ScaledCrossentropy

DECAY = 0.95  # moving average over about 1 / (1 - DECAY) = 20 batches
MIN_LOSS = 1e-4  # keeps a weight finite when a task's training loss reaches 0
STATE_KEY = "loss_averages"  # state.json: {task: moving average of its loss}


def weight_key(task: str) -> str:
    """The log and metrics.csv column of ``task``'s learned weight."""
    return f"w_{task}"


def moving_average(average: float | None, loss: float, decay: float = DECAY) -> float:
    """``average`` after one more batch ``loss``: ``decay * average + (1 - decay) * loss``
    (the first batch's loss starts it)."""
    return loss if average is None else decay * average + (1.0 - decay) * loss


def log_variance(loss: float) -> float:
    """``s = log(2 L)``, where ``exp(-s) L + s / 2`` is smallest for the task loss L (at least MIN_LOSS)."""
    return math.log(2.0 * max(loss, MIN_LOSS))


def task_weight(average: float | None) -> float:
    """``w = exp(-s)`` for the averaged task loss; 1 before the task's first labelled batch."""
    return 1.0 if average is None else math.exp(-log_variance(average))


def scaled_losses(model: keras.Model, tasks: Sequence[str]) -> dict[str, ScaledCrossentropy]:
    """The tasks' losses of ``model``, compiled with learned weights (``compile_model(..., learned=tasks)``)."""
    losses = model.loss if isinstance(model.loss, dict) else {}
    missing = [t for t in tasks if not isinstance(losses.get(t), ScaledCrossentropy)]
    if missing:
        raise SettingsError(f"the model is not compiled with learned loss weights for {', '.join(missing)}")
    return {t: losses[t] for t in tasks}


class UncertaintyWeighting(keras.callbacks.Callback):
    """Set each task's loss weight after every training batch (see the module); at the end of an
    epoch, log ``w_<task>`` and replace ``<task>_loss`` with the unweighted epoch loss, which Keras
    logs after the moving weight and which then means what it means with fixed weights.

    ``averages`` (task -> average loss, as in state.json) continues a resumed run's weights."""

    def __init__(self, tasks: Sequence[str], averages: dict[str, float] | None = None, decay: float = DECAY):
        super().__init__()
        self.tasks, self.decay = tuple(tasks), decay
        self.averages = {t: (averages or {}).get(t) for t in self.tasks}

    def weights(self) -> dict[str, float]:
        return {t: task_weight(self.averages[t]) for t in self.tasks}

    def on_train_begin(self, logs=None):
        self.losses = scaled_losses(self.model, self.tasks)
        for t, w in self.weights().items():
            self.losses[t].scale.assign(w)

    def on_epoch_begin(self, epoch, logs=None):
        self.sums = {t: np.zeros(2) for t in self.tasks}  # unweighted loss times examples, examples

    def on_train_batch_end(self, batch, logs=None):
        for t, loss in self.losses.items():
            reduced, examples, labelled = (float(x) for x in loss.batch.numpy())
            self.sums[t] += (reduced * examples, examples)
            if labelled > 0:
                self.averages[t] = moving_average(self.averages[t], reduced * examples / labelled, self.decay)
                loss.scale.assign(task_weight(self.averages[t]))

    def on_epoch_end(self, epoch, logs=None):
        for t in self.tasks:
            total, examples = self.sums[t]
            logs[f"{t}_loss"] = total / examples
            logs[weight_key(t)] = task_weight(self.averages[t])
