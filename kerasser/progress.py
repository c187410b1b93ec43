"""The one channel for progress lines and warnings: a ``write(line)`` callback.

Every long-running library function (``train``, ``crossval``, ``evaluate_run``, ``export_run``,
the dataset's decode warnings) takes ``write`` and sends each line through it; ``None`` means
``to_stderr``. Nothing in the library prints to stdout, which belongs to the command line's data.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

Write = Callable[[str], None]


def to_stderr(line: str) -> None:
    """The default ``write``: one line on stderr, flushed."""
    print(line, file=sys.stderr, flush=True)


def writer(write: Write | None) -> Write:
    """``write``, or ``to_stderr`` when it is None."""
    return write or to_stderr
