"""UtteranceNormalization: subtract each utterance's own feature mean (sentence mean normalisation),
or only its overall level; optionally with statistics over the utterance's speech frames only."""

from __future__ import annotations

import math

import keras
from keras import ops

MODES = ("mean", "meanvar", "level")


@keras.saving.register_keras_serializable(package="kerasser")
class UtteranceNormalization(keras.layers.Layer):
    """Normalise features [batch, time, features] per utterance and per feature.

    ``mode="mean"``: subtract the mean over the utterance's valid frames (cepstral / sentence mean
    normalisation: removes a fixed channel and gain). ``mode="meanvar"``: also divide by the
    standard deviation over the valid frames (plus ``epsilon``). ``mode="level"``: subtract one
    number per utterance, the mean over its valid frames and all features: on log energies that
    removes the recording's gain only, and keeps the utterance's average spectral shape (its tilt).

    ``gate_db`` > 0 (for log mel energies in natural-log units): the statistics use only the frames
    whose energy (the log of the summed mel energies) is within ``gate_db`` dB of the utterance's
    loudest valid frame, an energy voice activity gate, so the share of silence around the speech
    (half of a RAVDESS clip, a sixth of an EmoDB cut) does not move the speech frames' normalised
    level. Every valid frame is still normalised (and passed on); 0 uses all valid frames.

    Masking: takes the Keras mask or an explicit ``mask`` [batch, time] bool. Statistics use the
    valid frames only, and padded frames come out as exactly 0, so padding never changes a valid
    frame. A row with no valid frame comes out all 0. The mask is passed on unchanged.
    Statistics are computed in float32 whatever the compute dtype (float16 sums overflow).
    """

    def __init__(self, mode: str = "mean", epsilon: float = 1e-3, gate_db: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if not gate_db >= 0:
            raise ValueError(f"gate_db must be >= 0 (0: no gate), not {gate_db!r}")
        self.mode = mode
        self.epsilon = epsilon
        self.gate_db = float(gate_db)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        dtype = inputs.dtype
        inputs = ops.cast(inputs, "float32")  # sums over thousands of frames overflow float16
        if mask is None:
            weight = ops.ones_like(inputs[..., :1])
        else:
            weight = ops.expand_dims(ops.cast(mask, "float32"), -1)
        stats = self._speech_frames(inputs, weight) if self.gate_db else weight
        count = ops.maximum(ops.sum(stats, axis=1, keepdims=True), 1.0)
        mean = ops.sum(inputs * stats, axis=1, keepdims=True) / count
        if self.mode == "level":
            mean = ops.mean(mean, axis=-1, keepdims=True)
        centred = (inputs - mean) * weight
        if self.mode == "meanvar":
            var = ops.sum(ops.square(centred) * stats, axis=1, keepdims=True) / count
            centred = centred * ops.rsqrt(var + self.epsilon)
        return ops.cast(centred, dtype)

    def _speech_frames(self, inputs, weight):
        """[batch, time, 1] 1.0 for the valid frames within ``gate_db`` of the loudest valid frame."""
        energy = ops.logsumexp(inputs, axis=-1, keepdims=True)  # log of the frame's summed energies
        energy = ops.where(weight > 0, energy, ops.full_like(energy, -1e30))
        floor = ops.max(energy, axis=1, keepdims=True) - self.gate_db * math.log(10.0) / 10.0
        return ops.stop_gradient(ops.cast(energy >= floor, "float32") * weight)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode, "epsilon": self.epsilon, "gate_db": self.gate_db}
