"""Windowed reading of long audio files with bounded memory.

:func:`probe` reads a file's header only; :func:`plan_windows` cuts a duration into windows;
:func:`read_blocks` reads a file in order, a block at a time (for :mod:`kerasser.data.segments`);
:func:`read_windows` decodes one window at a time (``SoundFile.seek`` + ``read(frames)``), and
down-mixes, resamples (soxr, per window) and checks it like :func:`kerasser.data.audio.load`, so an
hour-long file never sits in memory whole. Failures are :class:`kerasser.data.audio.AudioError` with the
same one-line reasons as ``load``. Imports numpy, soundfile and soxr only (through ``kerasser.data.audio``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator

import numpy as np
import soundfile as sf

from kerasser.data.audio import READ_ERRORS, SAMPLE_RATE, AudioError, from_array, opened, read_error
from kerasser.errors import SettingsError

# A last window shorter than this (in seconds) joins the window before it, so that no row stands
# for a fragment too short to judge (a 25.3 s file in 10 s windows: 0-10, 10-25.3).
MIN_LAST_WINDOW = 1.0


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    """Header facts of an audio file: ``frames`` per channel at its own ``sample_rate``."""

    path: str
    frames: int
    sample_rate: int
    channels: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate


@dataclasses.dataclass(frozen=True)
class Window:
    """Seconds ``start`` to ``end`` of a file, and its mono ``waveform`` (float32) at the target
    rate; or, for a window whose samples are unusable (NaN, inf), no waveform and the ``error``."""

    start: float
    end: float
    waveform: np.ndarray | None
    error: str | None = None


@contextlib.contextmanager
def _open(name: str) -> Iterator[sf.SoundFile]:
    """The file as an open ``sf.SoundFile`` (read from the checked descriptor of
    :func:`kerasser.data.audio.opened`), with AudioError for every failure, including a header
    without a usable sample rate."""
    with opened(name) as fd:
        try:
            handle = sf.SoundFile(fd, closefd=False)
        except READ_ERRORS as err:
            raise read_error(name, err) from None
        with handle:
            if not handle.samplerate or handle.samplerate <= 0:
                raise AudioError(name, f"invalid sample rate {handle.samplerate}")
            yield handle


def probe(path: str | os.PathLike) -> AudioInfo:
    """Frames, sample rate and channels from the file's header (nothing decoded)."""
    name = os.fspath(path)
    with _open(name) as info:
        if info.frames <= 0 or info.channels <= 0:
            raise AudioError(name, "empty audio")
        return AudioInfo(name, int(info.frames), int(info.samplerate), int(info.channels))


def plan_windows(
    duration: float, window: float, min_last: float = MIN_LAST_WINDOW
) -> list[tuple[float, float]]:
    """``[(start, end), ...]`` seconds: consecutive windows of ``window`` seconds covering ``duration``.

    The last window is what remains; if that is shorter than ``min_last`` seconds (and not the
    only window) it is joined to the window before it.
    """
    if window <= 0:
        raise SettingsError(f"window must be positive, got {window}")
    if duration <= 0:
        return []
    count = max(1, int(np.ceil(duration / window - 1e-9)))
    bounds = [(i * window, min((i + 1) * window, duration)) for i in range(count)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] < min_last:
        bounds[-2:] = [(bounds[-2][0], duration)]
    return bounds


def read_windows(
    path: str | os.PathLike,
    bounds: list[tuple[float, float]],
    target_rate: int = SAMPLE_RATE,
) -> Iterator[Window]:
    """Decode the windows ``bounds`` (seconds, as from :func:`plan_windows`) one at a time.

    Each window is read with a seek and a bounded ``read``; only one window's samples are in
    memory at a time. A window that ends early (the header over-stated the length) is cut short
    and reading stops after it. A window with unusable samples (NaN, inf) comes with its ``error``
    and reading goes on; decoding errors raise :class:`AudioError` when that window is reached,
    after the windows before it were yielded.
    """
    name = os.fspath(path)
    with _open(name) as f:
        rate = f.samplerate
        for start, end in bounds:
            first = int(round(start * rate))
            count = int(round(end * rate)) - first
            if count <= 0:
                continue
            try:
                if f.seekable() and f.tell() != first:
                    f.seek(first)
                samples = f.read(count, dtype="float32", always_2d=True)
            except READ_ERRORS as err:
                raise read_error(name, err) from None
            if samples.shape[0] == 0:
                return
            got_end = end if samples.shape[0] == count else (first + samples.shape[0]) / rate
            try:
                yield Window(start, got_end, from_array(samples, rate, name=name, target_rate=target_rate))
            except AudioError as err:  # bad samples in this window only (NaN, inf): the next may be fine
                yield Window(start, got_end, None, err.reason)
            if samples.shape[0] < count:
                return


def read_blocks(path: str | os.PathLike, seconds: float) -> Iterator[tuple[int, np.ndarray]]:
    """The file's samples in order, ``seconds`` at a time: ``(sample_rate, float32 [n, channels])``
    per block, so that only one block is in memory. Decoding errors raise :class:`AudioError` when
    reached, after the blocks before them; an empty file raises it at once."""
    name = os.fspath(path)
    with _open(name) as f:
        rate = f.samplerate
        count = max(1, int(round(seconds * rate)))
        read = 0
        while True:
            try:
                samples = f.read(count, dtype="float32", always_2d=True)
            except READ_ERRORS as err:
                raise read_error(name, err) from None
            if samples.shape[0] == 0:
                if not read:
                    raise AudioError(name, "empty audio")
                return
            read += samples.shape[0]
            yield rate, samples
            if samples.shape[0] < count:
                return
