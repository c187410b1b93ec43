"""Live input: ``kerasser label -`` labels audio read from standard input as it comes.

The stream is a WAV (told by its ``RIFF``/``RF64`` ... ``WAVE`` header: 8/16/24/32-bit PCM or
32/64-bit float, any rate and channel count; the data size is ignored when 0 or 0xFFFFFFFF, as
``ffmpeg`` and ``arecord`` write it to a pipe) or headerless PCM described by :class:`RawFormat`.
It is read as it arrives (``os.read``: a block is handled as soon as the bytes are there),
cut into speech pieces by :class:`kerasser.data.segments.SpeechStream`, and each piece is labelled and
its row written (flushed) as soon as the piece ends, ``min_silence`` after its speech. Rows have
the stream's ``name`` (:data:`STDIN_NAME`) as ``path`` and an empty ``duration`` (the length is not known while it
runs); with ``summary`` a last row covers the whole stream, its ``duration`` the seconds read.
A model folder with a step model (a causal model's, ``kerasser.serve.stream``) labels each piece
with it, chunk by chunk (the piece zero-padded to whole chunks).
"""

from __future__ import annotations

import dataclasses
import os
import struct
from collections.abc import Callable, Iterator

import numpy as np

from kerasser.config import SAMPLE_RATE
from kerasser.errors import AudioError, SettingsError
from kerasser.serve.label_summary import FileSummary
from kerasser.serve.labeling import Labeler
from kerasser.serve.writers import RowWriter

SAMPLE_FORMATS = {"s16le": "<i2", "s32le": "<i4", "f32le": "<f4", "u8": "u1"}
READ_SECONDS = 0.05  # at most this much audio is read at a time


@dataclasses.dataclass(frozen=True)
class RawFormat:
    """Headerless PCM: ``rate`` (Hz), ``channels``, ``sample_format`` (a :data:`SAMPLE_FORMATS` key)."""

    rate: int = SAMPLE_RATE
    channels: int = 1
    sample_format: str = "s16le"

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.channels <= 0:
            raise SettingsError(f"raw audio needs a positive rate and channel count, got {self.rate}, {self.channels}")
        if self.sample_format not in SAMPLE_FORMATS:
            raise SettingsError(f"unknown raw sample format {self.sample_format!r}; expected one of "
                                f"{', '.join(SAMPLE_FORMATS)}")


def _read(fd: int, count: int) -> bytes:
    """Up to ``count`` bytes, as many as there are now (at least one unless the stream ended)."""
    while True:
        try:
            return os.read(fd, count)
        except InterruptedError:
            continue


def _read_exact(fd: int, count: int) -> bytes:
    data = b""
    while len(data) < count:
        more = _read(fd, count - len(data))
        if not more:
            break
        data += more
    return data


def _wav_header(fd: int, name: str, start: bytes) -> tuple[str, int, int, int | None]:
    """``(numpy dtype, rate, channels, data bytes or None)`` from a WAV header whose first 12
    bytes are ``start``; the stream is left at the first data byte."""
    fmt = None
    while True:
        head = _read_exact(fd, 8)
        if len(head) < 8:
            raise AudioError(name, "WAV header without a data chunk")
        chunk, size = head[:4], struct.unpack("<I", head[4:])[0]
        if chunk == b"data":
            if fmt is None:
                raise AudioError(name, "WAV data before its fmt chunk")
            return (*fmt, None if size in (0, 0xFFFFFFFF) else size)
        body = _read_exact(fd, size + (size & 1))
        if chunk == b"fmt ":
            if len(body) < 16:
                raise AudioError(name, "WAV fmt chunk too short")
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's tag
                tag = struct.unpack("<H", body[24:26])[0]
            dtype = {(1, 8): "u1", (1, 16): "<i2", (1, 24): "i3", (1, 32): "<i4", (3, 32): "<f4", (3, 64): "<f8"}.get(
                (tag, bits))
            if dtype is None:
                raise AudioError(name, f"WAV format {tag} with {bits}-bit samples is not read from a stream "
                                       "(PCM 8/16/24/32-bit or float 32/64-bit)")
            if not rate or not channels:
                raise AudioError(name, f"invalid WAV header (rate {rate}, {channels} channels)")
            fmt = (dtype, rate, channels)


def _samples(data: bytes, dtype: str, channels: int) -> np.ndarray:
    """float32 [n, channels], full scale 1.0."""
    if dtype == "i3":
        raw = np.frombuffer(data, np.uint8).reshape(-1, 3)
        values = (raw[:, 0].astype(np.int32) | raw[:, 1].astype(np.int32) << 8 | raw[:, 2].astype(np.int32) << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
        arr = values.astype(np.float32) / (1 << 23)
    else:
        raw = np.frombuffer(data, dtype)
        if raw.dtype.kind == "f":
            arr = raw.astype(np.float32)
        elif raw.dtype.kind == "u":
            arr = (raw.astype(np.float32) - 128.0) / 128.0
        else:
            arr = raw.astype(np.float32) / float(2 ** (8 * raw.dtype.itemsize - 1))
    return arr.reshape(-1, channels)


STDIN_NAME = "<stdin>"  # the path column of rows from standard input


def read_stream(fd: int, raw: RawFormat = RawFormat(), name: str = STDIN_NAME) -> tuple[int, Iterator[np.ndarray]]:
    """``(rate, blocks)``: the stream's sample rate and its samples (float32 [n, channels]) as they
    arrive. AudioError for an empty stream or a WAV header that cannot be read."""
    start = _read_exact(fd, 12)
    if not start:
        raise AudioError(name, "no audio on standard input (empty stream)")
    limit = None
    if len(start) == 12 and start[:4] in (b"RIFF", b"RF64") and start[8:] == b"WAVE":
        dtype, rate, channels, limit = _wav_header(fd, name, start)
        pending = b""
    else:
        dtype, rate, channels = SAMPLE_FORMATS[raw.sample_format], raw.rate, raw.channels
        pending = start
    frame = (3 if dtype == "i3" else np.dtype(dtype).itemsize) * channels
    chunk = max(frame, int(rate * READ_SECONDS) * frame)

    def blocks() -> Iterator[np.ndarray]:
        nonlocal pending, limit
        while True:
            want = chunk if limit is None else min(chunk, limit)
            data = _read(fd, want) if want > 0 else b""
            if limit is not None:
                limit -= len(data)
            pending += data
            usable = len(pending) // frame * frame
            if usable:
                yield _samples(pending[:usable], dtype, channels)
                pending = pending[usable:]
            if not data:
                return

    return rate, blocks()


def label_stream(
    labeler: Labeler,
    fd: int,
    writer: RowWriter,
    *,
    raw: RawFormat = RawFormat(),
    name: str = STDIN_NAME,
    summary: bool = False,
    on_error: Callable[[str, str], None] | None = None,
) -> int:
    """Label the audio on descriptor ``fd`` piece by piece as it arrives (module docstring);
    returns the number of error rows written."""
    from kerasser.data.segments import SpeechStream
    from kerasser.serve.labeling_files import _predict_row, _where
    from kerasser.serve.stream import stepped

    labeler = stepped(labeler)
    errors = 0
    totals = FileSummary(labeler.tasks)
    stream = None

    def emit(row: dict) -> None:
        nonlocal errors
        writer.write(row)
        totals.add(row)
        if row["error"]:
            errors += 1
            if on_error is not None:
                on_error(_where(row), row["error"])

    try:
        rate, blocks = read_stream(fd, raw, name)
        stream = SpeechStream(rate, labeler.sample_rate, name=name)
        for block in blocks:
            for piece in stream.push(block):
                emit(_predict_row(labeler, name, None, piece.start, piece.end, piece.waveform))
        for piece in stream.finish():
            emit(_predict_row(labeler, name, None, piece.start, piece.end, piece.waveform))
    except AudioError as err:
        emit({"path": name, "duration": None, "start": stream.seconds if stream else None, "end": None,
              "error": err.reason})
        return errors
    if summary:
        emit(totals.row(name, stream.seconds))
    return errors
