"""LogMelSpectrogram: log mel filterbank energies of a waveform, computed inside the graph."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from kerasser.layers.framing_ops import frame


def dft_matrices(frame_length: int, fft_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Real and imaginary DFT bases [frame_length, fft_length // 2 + 1] with the periodic Hann
    window folded in: ``frames @ re`` and ``frames @ im`` are the windowed frames' one-sided
    spectrum (frames zero-padded to ``fft_length``)."""
    n = np.arange(frame_length)[:, None]
    k = np.arange(fft_length // 2 + 1)[None, :]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame_length) / frame_length)
    angle = 2 * np.pi * n * k / fft_length
    return (window[:, None] * np.cos(angle)).astype(np.float32), (-window[:, None] * np.sin(angle)).astype(np.float32)


@keras.saving.register_keras_serializable(package="kerasser")
class LogMelSpectrogram(keras.layers.Layer):
    """``log(mel(|STFT(x)|^2) + log_offset)`` of a waveform batch.

    Frames of ``frame_length`` samples every ``frame_step`` samples, periodic Hann window,
    zero-padded to ``fft_length``, power spectrum, ``num_mel_bins`` triangular mel filters
    (``tf.signal.linear_to_mel_weight_matrix``: HTK mel scale) between ``lower_edge_hertz`` and
    ``upper_edge_hertz``, natural log.

    The DFT is a matrix product with a fixed cosine / sine basis (window folded in), not an FFT:
    it converts to TFLite's FULLY_CONNECTED / BATCH_MATMUL builtins, quantises like any other
    matmul, and costs about 20 MFLOP per audio second at 16 kHz.

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
        sample_rate: int = 16000,
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
        real, imag = dft_matrices(self.frame_length, self.fft_length)
        # One basis [frame_length, 2 * bins]: a single matmul gives real and imaginary parts.
        self.dft = self.add_weight(
            name="dft",
            shape=(self.frame_length, 2 * real.shape[1]),
            initializer=keras.initializers.Constant(np.concatenate([real, imag], axis=1)),
            trainable=False,
        )
        self.filterbank = self.add_weight(
            name="filterbank",
            shape=(self.fft_length // 2 + 1, self.num_mel_bins),
            initializer=keras.initializers.Constant(self.mel_matrix()),
            constraint=keras.constraints.NonNeg() if self.trainable_filterbank else None,
            trainable=self.trainable_filterbank,
        )

    def call(self, waveform):
        frames = frame(tf.expand_dims(waveform, -1), self.frame_length, self.frame_step)
        frames = tf.squeeze(frames, -1)  # [batch, F, frame_length]
        spectrum = tf.matmul(frames, self.dft)
        bins = self.fft_length // 2 + 1
        power = tf.square(spectrum[..., :bins]) + tf.square(spectrum[..., bins:])
        return tf.math.log(tf.matmul(power, self.filterbank) + self.log_offset)

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
