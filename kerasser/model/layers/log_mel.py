"""LogMelSpectrogram: log mel filterbank energies of a waveform, computed inside the graph."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasser.config import SAMPLE_RATE
from kerasser.model.layers.framing_ops import frame_signal


def hann_window(frame_length: int) -> np.ndarray:
    """The periodic Hann window (as ``tf.signal.hann_window(n, periodic=True)``)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame_length) / frame_length)).astype(np.float32)


@keras.saving.register_keras_serializable(package="kerasser")
class LogMelSpectrogram(keras.layers.Layer):
    """``log(mel(|STFT(x)|^2) + log_offset)`` of a waveform batch.

    Frames of ``frame_length`` samples every ``frame_step`` samples, periodic Hann window,
    zero-padded to ``fft_length``, power spectrum, ``num_mel_bins`` triangular mel filters
    (``tf.signal.linear_to_mel_weight_matrix``: HTK mel scale) between ``lower_edge_hertz`` and
    ``upper_edge_hertz``, natural log.

    The spectrum is ``tf.signal.rfft`` (TFLite's RFFT2D builtin, which needs a power-of-two
    ``fft_length``). Layers saved by the first version, which held a DFT basis as a weight and
    multiplied by it (the same values, 1.6x slower in LiteRT), load unchanged: the basis is
    dropped on load.

    With ``trainable_filterbank=True`` the mel matrix is a trainable weight (initialised on mel,
    kept non-negative): the learnable-filterbank option. Otherwise it is a fixed weight.

    Input: [batch, time] sized by ``FramePadding`` with the same ``frame_length`` and
    ``frame_step`` (``1 + (time - frame_length) / frame_step`` whole frames).
    Output: [batch, frames, num_mel_bins].

    Masking: none consumed or produced; ``FramePadding`` zeroes the samples past each row's
    length and makes the frame mask, so padded frames hold ``log(log_offset)`` and are masked
    downstream.
    """

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        frame_length: int = 400,
        frame_step: int = 160,
        fft_length: int = 512,
        num_mel_bins: int = 80,
        lower_edge_hertz: float = 20.0,
        upper_edge_hertz: float = 7600.0,
        log_offset: float = 1e-6,
        trainable_filterbank: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if fft_length < frame_length:
            raise ValueError(f"fft_length ({fft_length}) must be at least frame_length ({frame_length})")
        if not 0 <= lower_edge_hertz < upper_edge_hertz <= sample_rate / 2:
            raise ValueError("need 0 <= lower_edge_hertz < upper_edge_hertz <= sample_rate / 2")
        self.sample_rate = sample_rate
        self.frame_length = frame_length
        self.frame_step = frame_step
        self.fft_length = fft_length
        self.num_mel_bins = num_mel_bins
        self.lower_edge_hertz = lower_edge_hertz
        self.upper_edge_hertz = upper_edge_hertz
        self.log_offset = log_offset
        self.trainable_filterbank = trainable_filterbank

    def mel_matrix(self) -> np.ndarray:
        """The initial mel filterbank [fft_length // 2 + 1, num_mel_bins]."""
        return tf.signal.linear_to_mel_weight_matrix(
            self.num_mel_bins,
            self.fft_length // 2 + 1,
            self.sample_rate,
            self.lower_edge_hertz,
            self.upper_edge_hertz,
        ).numpy()

    def build(self, input_shape):
        self.filterbank = self.add_weight(
            name="filterbank",
            shape=(self.fft_length // 2 + 1, self.num_mel_bins),
            initializer=keras.initializers.Constant(self.mel_matrix()),
            constraint=keras.constraints.NonNeg() if self.trainable_filterbank else None,
            trainable=self.trainable_filterbank,
        )

    def call(self, waveform):
        frames = frame_signal(waveform, self.frame_length, self.frame_step) * hann_window(self.frame_length)
        spectrum = tf.signal.rfft(frames, fft_length=[self.fft_length])
        power = tf.square(tf.math.real(spectrum)) + tf.square(tf.math.imag(spectrum))
        return tf.math.log(tf.matmul(power, self.filterbank) + self.log_offset)

    def load_own_variables(self, store):
        if len(store.keys()) == 2:  # saved by the first version: [DFT basis, filterbank]
            self.filterbank.assign(store["1"])
            return
        super().load_own_variables(store)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None, self.num_mel_bins)

    def get_config(self):
        return {
            **super().get_config(),
            "sample_rate": self.sample_rate,
            "frame_length": self.frame_length,
            "frame_step": self.frame_step,
            "fft_length": self.fft_length,
            "num_mel_bins": self.num_mel_bins,
            "lower_edge_hertz": self.lower_edge_hertz,
            "upper_edge_hertz": self.upper_edge_hertz,
            "log_offset": self.log_offset,
            "trainable_filterbank": self.trainable_filterbank,
        }
