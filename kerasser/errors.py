"""The one exception hierarchy of kerasser.

Every error the library raises on purpose (bad data, bad settings, an unusable run or model
folder, a failed export) derives from ``KerasserError``, whose ``str()`` is one line:
``"<path>: <reason>"``, ``"<path>:<line>: <reason>"``, or the reason alone. The command line
prints exactly these as ``Error: ...``; anything else is a bug and keeps its traceback
(``kerasser --debug`` or ``KERASSER_DEBUG=1``).

Errors about values the caller chose (``SettingsError``) or data that cannot satisfy a request
(``DataError``) are also ``ValueError``s, as they were before this hierarchy existed.
"""

from __future__ import annotations

import os


def one_line(text: object) -> str:
    """Collapse whitespace (newlines included) so a message stays on one line."""
    return " ".join(str(text).split())


def shown_path(path: str) -> str:
    """``path`` as messages show it: newlines and carriage returns escaped, so it stays one line."""
    return path.replace("\n", "\\n").replace("\r", "\\r")


class KerasserError(Exception):
    """An expected failure, said in one line: ``reason``, about ``path`` (and ``line``) if given."""

    def __init__(self, reason: str, *, path: str | os.PathLike | None = None, line: int | None = None) -> None:
        self.reason = one_line(reason)
        self.path = None if path is None else os.fspath(path)
        self.line = line
        super().__init__(self._format())

    def _format(self) -> str:
        if self.path is None:
            return self.reason
        where = shown_path(self.path)
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.reason}"

    def __reduce__(self):  # picklable across worker processes, whatever the subclass signature
        return _rebuild, (type(self), self.reason, self.path, self.line)


def _rebuild(cls, reason, path, line):
    error = cls.__new__(cls)
    KerasserError.__init__(error, reason, path=path, line=line)
    return error


class AudioError(KerasserError):
    """An audio file or array that cannot be used: ``AudioError(path, reason)``."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        super().__init__(reason, path=path)


class CorpusError(KerasserError):
    """A corpus that cannot be read: ``CorpusError(path, reason, line=None)``."""

    def __init__(self, path: str | os.PathLike, reason: str, line: int | None = None) -> None:
        super().__init__(reason, path=path, line=line)


class RunError(KerasserError):
    """A run folder that cannot be used (missing, another configuration, unfinished)."""


class ExportError(KerasserError):
    """An export that cannot be made or failed its checks."""


class ModelError(KerasserError):
    """An exported model folder or file that cannot be loaded or run."""


class SettingsError(KerasserError, ValueError):
    """A setting, option or argument value that cannot work."""


class DataError(KerasserError, ValueError):
    """Data that cannot serve the request (no labelled utterances for a split or task, ...)."""


class PredictionError(KerasserError):
    """A model output that is no prediction (non-finite probabilities or attention, probabilities
    outside [0, 1]): the input or the model file is to blame, and no label may be made from it."""


class OutputError(KerasserError):
    """An output that cannot be written (disk full, a closed or read-only stdout) or is held by
    another writer. ``errno``: the operating system's error number, when there is one."""

    errno: int | None = None
