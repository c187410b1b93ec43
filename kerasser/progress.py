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


# C0 controls, DEL and C1 controls: a terminal acts on them (moves the cursor, changes colours,
# rings, clears lines), so a file name holding one must not reach it as it is.
_CONTROLS = [*range(0x20), 0x7F, *range(0x80, 0xA0)]
_ESCAPED = str.maketrans({chr(c): repr(chr(c))[1:-1] for c in _CONTROLS})


def printable(text: str) -> str:
    """``text`` with control characters written as Python's repr writes them (``\\n``, ``\\r``,
    ``\\t``, ``\\x1b``, ``\\x7f``, ``\\x9b``), for lines shown on a terminal (file names in progress
    and error lines)."""
    return text.translate(_ESCAPED)
