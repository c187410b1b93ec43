"""PCEN: per-channel energy normalisation of log mel energies (Wang et al., ICASSP 2017)."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="kerasser")
class PCEN(keras.layers.Layer):
    """Per-channel energy normalisation of log mel features [batch, time, channels].

    With ``E = exp(inputs)`` (the mel energies of ``LogMelSpectrogram``'s output) and ``M`` a causal
    exponential moving average of ``E`` over time, per channel:

        PCEN = (E / (M + epsilon) ** alpha + delta) ** r - delta ** r

    The moving average has coefficient ``smooth`` (``M[t] = (1 - smooth) M[t-1] + smooth E[t]``;
    0.025 at 10 ms frames is librosa's 0.4 s time constant) and looks back ``context_frames``
    frames (weight ``smooth * (1 - smooth) ** k`` on frame ``t - k``, divided by the weights'
    sum over the valid frames in reach, so the first frames are averaged over what there is rather
    than over zeros). Computed as a depthwise convolution over time (TFLite's builtin
    DEPTHWISE_CONV_2D), not a recurrence. ``alpha`` (gain normalisation strength), ``delta`` (bias)
    and ``r`` (root compression) are trainable per channel, kept positive as exponentials of their
    logs (Lostanlen et al., 2019); initialised at ``alpha``, ``delta``, ``root``.

    It replaces per-utterance normalisation: the gain is divided out locally (over about
    ``1 / smooth`` frames) rather than subtracted once per utterance, and the output keeps each
    channel's short-term dynamics, compressed.

    Masking: takes the Keras mask or an explicit ``mask`` [batch, time] bool. Only valid frames
    enter the moving average, and padded frames come out as exactly 0, so padding never changes a
    valid frame. A row with no valid frame comes out all 0. The mask is passed on unchanged.
    Computed in float32 whatever the compute dtype (float16 energies overflow).
    """

    def __init__(
        self,
        smooth: float = 0.025,
        context_frames: int = 256,
        alpha: float = 0.98,
        delta: float = 2.0,
        root: float = 0.5,
        epsilon: float = 1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not 0.0 < smooth <= 1.0:
            raise ValueError(f"smooth must be in (0, 1], not {smooth}")
        if context_frames < 1:
            raise ValueError(f"context_frames must be at least 1, not {context_frames}")
        if min(alpha, delta, root, epsilon) <= 0.0:
            raise ValueError("alpha, delta, root and epsilon must be positive")
        self.smooth = smooth
        self.context_frames = context_frames
        self.alpha = alpha
        self.delta = delta
        self.root = root
        self.epsilon = epsilon
        self.supports_masking = True

    def smoothing_weights(self) -> np.ndarray:
        """The moving average's weight on frames t, t - 1, ..., t - context_frames + 1."""
        return (self.smooth * (1.0 - self.smooth) ** np.arange(self.context_frames)).astype(np.float32)

    def build(self, input_shape):
        channels = input_shape[-1]

        def log_of(value):
            return keras.initializers.Constant(np.log(value))

        self.log_alpha = self.add_weight(name="log_alpha", shape=(channels,), initializer=log_of(self.alpha))
        self.log_delta = self.add_weight(name="log_delta", shape=(channels,), initializer=log_of(self.delta))
        self.log_root = self.add_weight(name="log_root", shape=(channels,), initializer=log_of(self.root))

    def _causal_average(self, values, channels: int):
        """The weighted sum over each frame and the ``context_frames - 1`` before it, per channel."""
        kernel = np.tile(self.smoothing_weights()[::-1, None, None], (1, channels, 1))  # oldest first
        padded = ops.pad(values, [[0, 0], [self.context_frames - 1, 0], [0, 0]])
        return ops.depthwise_conv(padded, kernel, strides=1, padding="valid")

    def call(self, inputs, mask=None):
        dtype = inputs.dtype
        log_energy = ops.cast(inputs, "float32")
        if mask is None:
            weight = ops.ones_like(log_energy[..., :1])
        else:
            weight = ops.expand_dims(ops.cast(mask, "float32"), -1)
        log_energy = log_energy * weight  # junk in padded frames must not overflow exp (inf * 0 is nan)
        energy = ops.exp(log_energy) * weight
        reach = self._causal_average(weight, 1)  # the weights over the valid frames in reach
        average = self._causal_average(energy, self.log_alpha.shape[0]) / ops.maximum(reach, 1e-12)
        alpha, delta, root = (ops.exp(ops.cast(w, "float32")) for w in (self.log_alpha, self.log_delta, self.log_root))
        gained = ops.exp(log_energy - alpha * ops.log(average + self.epsilon))  # E / (M + eps) ** alpha
        out = ops.power(gained + delta, root) - ops.power(delta, root)
        return ops.cast(out * weight, dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "smooth": self.smooth,
            "context_frames": self.context_frames,
            "alpha": self.alpha,
            "delta": self.delta,
            "root": self.root,
            "epsilon": self.epsilon,
        }
