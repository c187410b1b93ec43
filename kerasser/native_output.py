"""Keep native libraries' start-up chatter off a command's stderr.

LiteRT prints "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." and TensorFlow's C++
runtime prints absl lines (oneDNN, CUDA probing) straight to file descriptor 2, below Python's
``sys.stderr``. ``native_stderr_silenced()`` points descriptor 2 at a temporary file while
keeping ``sys.stderr`` (and so Python warnings, progress and error messages) on the real stderr;
what the libraries wrote is dropped, unless the block fails with an exception that does not
explain itself (not a ``KerasserError``, not one of ``explained``, not an exit), when it is written
out so that a native crash still shows its library's words.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

from kerasser.errors import KerasserError


@contextlib.contextmanager
def native_stderr_silenced(explained: tuple[type[BaseException], ...] = ()):
    """Inside: native writes to descriptor 2 are captured, Python's ``sys.stderr`` still shows.
    ``explained``: exception types with messages of their own (no replay of the captured text)."""
    try:
        sys.stderr.flush()
        original = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real descriptor 2 (embedded, some test runners)
        yield
        return
    python_stderr = sys.stderr
    on_fd2 = _fileno(python_stderr) == 2  # else sys.stderr is elsewhere already (a pipe wrapper, a test)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        if on_fd2:
            sys.stderr = os.fdopen(os.dup(original), "w", buffering=1, encoding=python_stderr.encoding,
                                   errors=python_stderr.errors)
        failed = False
        try:
            yield
        except (KerasserError, *explained):
            raise
        except Exception:
            failed = True
            raise
        finally:
            if on_fd2:
                sys.stderr.flush()
                sys.stderr.close()
                sys.stderr = python_stderr
            os.dup2(original, 2)
            os.close(original)
            if failed:
                captured.seek(0)
                text = captured.read().decode(errors="replace")
                if text:
                    python_stderr.write(text)
                    python_stderr.flush()


def quiet_python_logs() -> None:
    """TensorFlow's, absl's and h5py's Python loggers: errors only (their start-up warnings are
    not for users), and ``TF_CPP_MIN_LOG_LEVEL=2`` unless set (TensorFlow's C++ log below
    warnings; absl's start-up lines ignore it: :func:`native_stderr_silenced` holds them back).
    Python ``warnings`` are left alone."""
    import logging

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in ("tensorflow", "absl", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _fileno(stream) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return None
