"""What several test modules share: a fake exported model and test signals (in memory and on disk)."""

from __future__ import annotations

import numpy as np
import soundfile as sf

LEVELS = ("low", "mid", "high")


def _softmax(logits) -> np.ndarray:
    e = np.exp(np.asarray(logits, np.float64))
    return e / e.sum()


# Per task: class probabilities from a waveform's loudness (rms) and length, so that windows and
# files of different loudness get different rows.
_TASKS = {
    "arousal": (LEVELS, lambda rms, n: _softmax([1.0 - 10 * rms, 0.5, 10 * rms - 1.0])),
    "valence": (LEVELS, lambda rms, n: _softmax([0.2, n / 160000, rms])),
    "emotion": (("anger", "neutral"), lambda rms, n: _softmax([rms * 5, n / 160000])),
}


class FakeModel:
    """What ``kerasser.serve.labeling.Labeler`` needs of an exported model, for ``tasks`` (names from
    arousal, valence, emotion). Remembers every waveform it saw; with ``attention``, the first
    task also gets a ``{task}_attention`` output."""

    sample_rate = 16000

    def __init__(self, tasks=("arousal", "valence"), name: str | None = None, attention: bool = False,
                 transcript: str | None = None):
        self.tasks = [(t, _TASKS[t][0]) for t in tasks]
        self.metadata = {"name": name} if name else {}
        self.attention = attention
        self.transcript = transcript  # with a text, a CTC output that spells it on every input
        if transcript is not None:
            self.metadata["transcript"] = {"output": "transcript", "blank": 0}
        self.seen: list[np.ndarray] = []

    def predict(self, waveform):
        assert waveform.dtype == np.float32 and waveform.ndim == 1
        self.seen.append(waveform)
        rms = float(np.sqrt(np.mean(waveform**2)))
        out = {t: _TASKS[t][1](rms, len(waveform)) for t, _ in self.tasks}
        if self.attention:
            out[f"{self.tasks[0][0]}_attention"] = np.ones(3)
        if self.transcript is not None:
            out["transcript"] = spelling(self.transcript)
        return out


class FakeSpeakerModel(FakeModel):
    """A FakeModel that normalises by speaker: each waveform's statistics are (its samples'
    sum repeated twice, its sample count), and ``references`` records the reference of each call."""

    needs_reference = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.references: list[np.ndarray] = []

    def statistics(self, waveform):
        return np.full(2, float(np.sum(waveform)), np.float32), float(len(waveform))

    def predict(self, waveform, reference=None):
        if reference is None:  # the clip's own, as kerasser.serve.inference.ExportedModel does
            total, frames = self.statistics(waveform)
            reference = total / frames
        self.references.append(np.asarray(reference))
        return super().predict(waveform)


def spelling(text: str) -> np.ndarray:
    """CTC log-probabilities [steps, classes] whose best path reads ``text``: each character's
    class, then a blank."""
    from kerasser.text import BLANK, NUM_CLASSES, encode

    path = [c for i in encode(text) for c in (i, BLANK)]
    scores = np.full((len(path) + 1, NUM_CLASSES), np.log(0.01))
    for t, c in enumerate(path + [BLANK]):
        scores[t, c] = np.log(0.9)
    return scores


def sine(seconds: float, rate: int = 16000, freq: float = 220.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def ramp_file(path, seconds: float, rate: int = 16000):
    """A 220 Hz sine whose loudness grows (so every window differs), written to ``path`` (16-bit
    PCM for .wav, the format's default otherwise); returns ``path``."""
    x = sine(seconds, rate) * np.linspace(0.05, 1.0, int(round(seconds * rate)), dtype=np.float32)
    sf.write(path, x, rate, subtype="PCM_16" if str(path).endswith(".wav") else None)
    return path
