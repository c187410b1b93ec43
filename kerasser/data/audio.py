"""Audio loading: any libsndfile format, any rate, any channel count -> float32 mono at 16 kHz.

Every failure (missing file, folder, not audio, corrupt, empty, NaN/inf samples) is raised as
:class:`AudioError` with a one-line ``"<path>: <reason>"`` message; no soundfile, soxr or OS
exception escapes. This module must stay light: it imports numpy, soundfile and soxr only.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator

import numpy as np
import soundfile as sf
import soxr

from kerasser.config import SAMPLE_RATE
from kerasser.errors import AudioError, SettingsError

# The default contract's rate, for callers without a model config; a model's own rate is
# ModelConfig.audio.sample_rate (training, evaluation, export) or its metadata (labelling).


READ_ERRORS = (sf.LibsndfileError, OSError, RuntimeError, ValueError, TypeError, MemoryError)


SPECIAL_KINDS = (
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)


def mode_kind(mode: int) -> str | None:
    """``"FIFO"``, ``"socket"``, ... for a ``st_mode`` that is neither a regular file nor a folder."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return next((kind for test, kind in SPECIAL_KINDS if test(mode)), "special file")


def not_regular_reason(kind: str) -> str:
    """The error of a special file named explicitly."""
    return f"not a regular file ({kind})"


@contextlib.contextmanager
def opened(name: str) -> Iterator[int]:
    """A read-only descriptor of the audio file ``name``, closed on exit; AudioError unless it is an
    existing, readable, non-empty regular file. The file is opened without blocking and checked on
    the descriptor, and libsndfile reads that descriptor: a name swapped for a FIFO after a folder
    was listed is refused, never waited on, and the file checked is the file read."""
    if not os.path.exists(name):
        if os.path.islink(name):  # the link is there; what it points to is not
            try:
                os.stat(name)
            except OSError as err:
                if err.errno == errno.ELOOP:
                    raise AudioError(name, "symbolic link loop (the links lead back to themselves)") from None
            raise AudioError(name, f"broken symbolic link (its target {os.readlink(name)!r} does not exist)")
        raise AudioError(name, "no such file")
    if os.path.isdir(name):
        raise AudioError(name, "is a directory, not an audio file")
    try:  # libsndfile would only say "System error" (e.g. permission denied)
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as err:
        raise AudioError(name, f"cannot read ({_describe(err)})") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):  # swapped for a folder since the check above
            raise AudioError(name, "is a directory, not an audio file")
        kind = mode_kind(mode)
        if kind is not None:
            raise AudioError(name, not_regular_reason(kind))
        try:
            empty = not os.pread(fd, 1, 0)
        except OSError as err:
            raise AudioError(name, f"cannot read ({_describe(err)})") from None
        if empty:
            raise AudioError(name, "empty file (0 bytes)")
        yield fd
    finally:
        os.close(fd)


def read_error(name: str, err: BaseException) -> AudioError:
    """The AudioError for an exception out of soundfile (one of ``READ_ERRORS``)."""
    if isinstance(err, sf.LibsndfileError):
        return AudioError(name, f"not a readable audio file ({err.error_string.rstrip('.')})")
    return AudioError(name, f"cannot read ({_describe(err)})")


def load(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read an audio file as float32 mono at ``sample_rate`` (channels averaged, soxr HQ resampling)."""
    name = os.fspath(path)
    with opened(name) as fd:
        try:
            samples, rate = sf.read(fd, dtype="float32", always_2d=True, closefd=False)
        except READ_ERRORS as err:
            raise read_error(name, err) from None
    return _prepare(samples, rate, sample_rate, name)


def from_array(
    samples: np.ndarray, sample_rate: int, name: str = "<array>", target_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Same down-mix, resampling and checks as :func:`load` for samples shaped ``[n]`` or ``[n, channels]``.

    Float samples are taken as they are (full scale 1.0); integer samples are scaled by their
    type's full scale (int16 -> / 32768). ``name`` stands in for the path in error messages.
    """
    arr = np.asarray(samples)
    if arr.ndim not in (1, 2):
        raise AudioError(name, f"expected samples shaped [n] or [n, channels], got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        arr = (arr.astype(np.float64) - (info.min + info.max + 1) / 2) / ((info.max - info.min + 1) / 2)
        # [-1, 1) also in float32: int32 2147483584 / 2**31 rounds up to 1.0 without this bound
        arr = np.minimum(arr, float(np.nextafter(np.float32(1), np.float32(0))))
    elif not np.issubdtype(arr.dtype, np.floating):
        raise AudioError(name, f"expected integer or float samples, got {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[:, None]
    return _prepare(arr.astype(np.float32, copy=False), sample_rate, target_rate, name)


def _prepare(samples: np.ndarray, rate: int, target_rate: int, name: str) -> np.ndarray:
    """[n, channels] float32 at ``rate`` -> validated float32 mono at ``target_rate``."""
    if target_rate <= 0:
        raise SettingsError(f"target sample rate must be positive, got {target_rate}")
    if not rate or rate <= 0:
        raise AudioError(name, f"invalid sample rate {rate}")
    if samples.shape[0] == 0 or samples.shape[1] == 0:
        raise AudioError(name, "empty audio")
    if not np.isfinite(samples).all():
        raise AudioError(name, "non-finite samples (NaN or inf)")
    mono = samples[:, 0] if samples.shape[1] == 1 else samples.mean(axis=1, dtype=np.float32)
    if rate != target_rate:
        try:
            mono = soxr.resample(mono, rate, target_rate, quality="HQ")
        except (ValueError, RuntimeError, TypeError, MemoryError) as err:
            raise AudioError(name, f"cannot resample from {rate} Hz ({_describe(err)})") from None
        if mono.shape[0] == 0:
            raise AudioError(name, f"empty audio (too short to resample from {rate} Hz)")
    return np.ascontiguousarray(mono, dtype=np.float32)


def _describe(err: BaseException) -> str:
    """Short text for an exception: the OS message for OSError, else the exception text."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__
