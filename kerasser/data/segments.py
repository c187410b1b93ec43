"""Speech segments: audio in (a file read block by block, or a live stream), speech pieces out.

:class:`Segmenter` turns a detector's frame scores (:mod:`kerasser.data.vad`) into segments: speech
starts at a frame scoring ``threshold`` or more and ends once the scores stay under ``release``
for ``min_silence`` seconds; it starts ``pad`` seconds before its first speech frame (never
inside the segment before) and ends ``end_pad`` after its last one, less the detector's ``lag``
(how long its scores stay up after speech ends); one whose speech is shorter than ``min_speech``
is dropped. A segment longer
than ``1.5 * piece`` is cut into pieces of ``piece`` seconds (the model's utterance length)
overlapping by ``overlap``, and a last piece of what remains (at least ``piece / 2 + overlap``).
Pieces come out as soon as they are known: a segment's last one ``min_silence`` after its speech
ends, so memory is bounded by a piece whatever the length of the audio.

:class:`SpeechStream` does the rest for audio at any rate and channel count: down-mix, resample
to the detector's 16 kHz (streaming soxr), score, segment, and cut each piece's samples out of a
buffer that keeps only what an open piece may still need. :func:`file_pieces` runs it over a file.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import numpy as np

from kerasser.data.vad import VAD_RATE, make_vad
from kerasser.errors import AudioError, SettingsError

# --segment's kinds besides seconds: speech segments (the CLI's and the Labeler API's default), one row per file
AUTO, NONE = "auto", "none"


@dataclasses.dataclass(frozen=True)
class SegmentRules:
    """How frame scores become speech pieces (seconds; see the module docstring)."""

    threshold: float = 0.5
    release: float = 0.35
    min_speech: float = 0.25
    min_silence: float = 0.3
    pad: float = 0.03
    end_pad: float = 0.0
    piece: float = 2.0  # the shipped model's utterances are 2 s long (EmoDB clips)
    overlap: float = 0.5

    def __post_init__(self) -> None:
        if self.piece <= 0 or not 0 <= self.overlap < self.piece / 2:
            raise SettingsError(f"piece must be positive and overlap in [0, piece / 2), got {self.piece}, {self.overlap}")

    @property
    def longest(self) -> float:
        """A segment longer than this is cut into pieces."""
        return 1.5 * self.piece


@dataclasses.dataclass(frozen=True)
class Piece:
    """Seconds ``start`` to ``end`` of the audio, and (from :class:`SpeechStream`) its samples."""

    start: float
    end: float
    waveform: np.ndarray | None = None


class Segmenter:
    """Frame scores (``frame_seconds`` apart) in, ``(start, end)`` pieces out (module docstring)."""

    def __init__(self, frame_seconds: float, rules: SegmentRules | None = None, lag: float = 0.0) -> None:
        self.step = float(frame_seconds)
        self.lag = float(lag)
        self.rules = rules or SegmentRules()
        self.frames = 0  # frames seen
        self.first: int | None = None  # first speech frame of the open segment
        self.last = 0  # frame after the open segment's last speech frame
        self.start = 0.0  # seconds: where the open segment's next piece starts
        self.cut = False  # the open segment has given a piece already
        self.previous_end = 0.0

    @property
    def open_since(self) -> float | None:
        """Seconds where the open piece starts (None outside speech): audio from there on is still needed."""
        return None if self.first is None else self.start

    def push(self, scores) -> list[tuple[float, float]]:
        rules, out = self.rules, []
        for score in np.asarray(scores, dtype=np.float64).reshape(-1):
            i = self.frames
            self.frames += 1
            if self.first is None:
                if score >= rules.threshold:
                    self.first, self.last, self.cut = i, i + 1, False
                    self.start = max(i * self.step - rules.pad, self.previous_end, 0.0)
                continue
            if score >= rules.release:
                self.last = i + 1
            elif (i + 1 - self.last) * self.step >= rules.min_silence:
                out.extend(self._close(self._end()))
                continue
            while self._end() - self.start > rules.longest:
                out.append((self.start, self.start + rules.piece))
                self.start += rules.piece - rules.overlap
                self.cut = True
        return out

    def finish(self, total: float) -> list[tuple[float, float]]:
        """The open segment's last piece, the audio having ended at ``total`` seconds."""
        if self.first is None:
            return []
        return self._close(min(self._end(), total))

    def _end(self) -> float:
        """Where the open segment ends if it ends now."""
        return max(self.last * self.step - self.lag + self.rules.end_pad, (self.first + 1) * self.step)

    def _close(self, end: float) -> list[tuple[float, float]]:
        speech = (self.last - self.first) * self.step
        self.first = None
        if not self.cut and speech < self.rules.min_speech:
            return []
        end = max(end, self.start + self.step)
        self.previous_end = end
        return [(self.start, end)]


class SpeechStream:
    """Samples at ``rate`` (shaped [n] or [n, channels], float) in, :class:`Piece` s with their
    samples at ``target_rate`` out. ``name`` stands in for the source in error messages;
    ``detector``: a :mod:`kerasser.data.vad` detector (default: a new one)."""

    def __init__(self, rate: int, target_rate: int = VAD_RATE, rules: SegmentRules | None = None,
                 name: str = "<stream>", detector=None) -> None:
        import soxr

        if rate <= 0:
            raise AudioError(name, f"invalid sample rate {rate}")
        self.name, self.rate, self.target_rate = name, int(rate), int(target_rate)
        self.detector = make_vad() if detector is None else detector
        self.segmenter = Segmenter(self.detector.frame_seconds, rules, self.detector.lag)
        self.resampler = None if rate == VAD_RATE else soxr.ResampleStream(rate, VAD_RATE, 1, dtype="float32",
                                                                            quality="HQ")
        self.buffer = np.zeros(0, dtype=np.float32)
        self.offset = 0  # VAD-rate sample index of buffer[0]
        self.samples = 0  # VAD-rate samples seen

    @property
    def seconds(self) -> float:
        """Seconds of audio seen so far."""
        return self.samples / VAD_RATE

    def push(self, samples: np.ndarray) -> list[Piece]:
        arr = np.asarray(samples, dtype=np.float32)
        if arr.ndim == 2:
            arr = arr[:, 0] if arr.shape[1] == 1 else arr.mean(axis=1, dtype=np.float32)
        if not np.isfinite(arr).all():
            raise AudioError(self.name, f"non-finite samples (NaN or inf) after {self.seconds:.1f} s")
        if self.resampler is not None:
            arr = self.resampler.resample_chunk(arr)
        return self._take(arr)

    def finish(self) -> list[Piece]:
        """The pieces still open when the audio ends."""
        pieces = self._take(self.resampler.resample_chunk(np.zeros(0, np.float32), last=True)) if self.resampler else []
        return pieces + [self._piece(s, e) for s, e in self.segmenter.finish(self.seconds)]

    def _take(self, arr: np.ndarray) -> list[Piece]:
        if arr.shape[0]:
            self.buffer = np.concatenate([self.buffer, arr.astype(np.float32, copy=False)])
            self.samples += arr.shape[0]
        pieces = [self._piece(s, e) for s, e in self.segmenter.push(self.detector.push(arr))]
        since = self.segmenter.open_since
        rules = self.segmenter.rules
        keep_from = self.seconds - rules.pad - 2 * self.detector.frame_seconds if since is None else since
        drop = int(keep_from * VAD_RATE) - self.offset
        if drop > 0:
            self.buffer = self.buffer[drop:]
            self.offset += drop
        return pieces

    def _piece(self, start: float, end: float) -> Piece:
        first = max(int(round(start * VAD_RATE)) - self.offset, 0)
        wave = self.buffer[first:max(int(round(end * VAD_RATE)) - self.offset, first)]
        if self.target_rate != VAD_RATE and wave.shape[0]:
            import soxr

            wave = soxr.resample(wave, VAD_RATE, self.target_rate, quality="HQ").astype(np.float32, copy=False)
        return Piece(start, end, np.ascontiguousarray(wave))


BLOCK_SECONDS = 5.0  # a file is read this much at a time


def file_pieces(path: str | os.PathLike, target_rate: int = VAD_RATE,
                rules: SegmentRules | None = None) -> Iterator[Piece]:
    """The speech pieces of an audio file, read :data:`BLOCK_SECONDS` at a time. A file that stops
    decoding raises :class:`AudioError` after the pieces before the failure."""
    from kerasser.data.windows import read_blocks

    name = os.fspath(path)
    stream = None
    for rate, samples in read_blocks(name, BLOCK_SECONDS):
        if stream is None:
            stream = SpeechStream(rate, target_rate, rules, name=name)
        yield from stream.push(samples)
    if stream is not None:
        yield from stream.finish()
