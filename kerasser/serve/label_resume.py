"""An earlier ``label`` output read back for ``--resume``, and the lock that keeps one writer on it.

:func:`read_previous` accepts only what ``kerasser label`` writes (:mod:`kerasser.serve.writers`): a CSV
whose header starts ``path,duration,start,end`` and ends ``error`` and whose every record has the
header's cells, or JSON Lines whose every line is an object with those keys, the same in every
line. Anything else raises DataError before a byte is touched, whatever the format. The one part
of a file that resume may drop (:meth:`PreviousOutput.trim_if_same_file`) is a cut-off last row of
its own: the bytes after the last complete record (a CSV record may hold a quoted newline).

:func:`lock_outputs` takes an exclusive ``flock`` on the output being resumed (and on a regular
file that stdout writes to) for as long as the process runs, so a second ``kerasser label`` on the
same output stops with one line instead of writing every row a second time.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import stat
from collections.abc import Iterator
from typing import IO, Any

from kerasser.errors import DataError, OutputError, shown_path
from kerasser.serve.writers import TIME_COLUMNS, unguard_cell

LEADING_COLUMNS = ("path", *TIME_COLUMNS)  # every label output starts with these ...
LAST_COLUMN = "error"  # ... and ends with this one
_JSONL_START = '{"path": '  # how a JSONL row of ours begins (json.dumps' default separators)


@dataclasses.dataclass
class FileProgress:
    """What an earlier output holds for one path: the furthest ``end`` labelled, the file's
    ``duration``, and whether an error row without an ``end`` (the file failed) closed it; a
    window's error row (a silent window) has an ``end`` and counts as labelled. ``weighted``: each
    numeric column of its labelled rows summed, weighted by the row's length (``end - start``),
    and ``weight`` those lengths' sum, for a ``--summary`` that spans runs
    (:mod:`kerasser.serve.label_summary`)."""

    end: float | None = None
    duration: float | None = None
    error: bool = False
    weighted: dict[str, float] = dataclasses.field(default_factory=dict)
    weight: float = 0.0

    @property
    def complete(self) -> bool:
        """True when nothing is left to label for this path (a file's error row also closes it)."""
        if self.error or self.end is None or self.duration is None:
            return True
        return self.end >= self.duration - 1e-3


@dataclasses.dataclass
class PreviousOutput:
    """An earlier output read back: its ``format`` (None when it holds no complete record), its
    ``columns`` (the CSV header, or the keys of the JSONL rows), the paths it has rows for, and
    where its last complete record ends."""

    path: str
    format: str | None = None
    columns: list[str] | None = None
    files: dict[str, FileProgress] = dataclasses.field(default_factory=dict)
    complete_bytes: int = 0
    size: int = 0

    @property
    def rows_cut_off(self) -> bool:
        """True when the file ends in a partial record (a run stopped mid-row)."""
        return self.size > self.complete_bytes

    def has_header_for(self, fmt: str) -> bool:
        """True when rows of ``fmt`` can be appended to this output without a new header."""
        return self.format == fmt and self.columns is not None

    def needs_header(self, fmt: str, columns: list[str]) -> bool:
        """Whether rows of ``fmt`` with ``columns`` appended to this output need a header first;
        DataError when it has rows of other columns (another model's output)."""
        if not self.has_header_for(fmt):
            return True
        if self.columns != columns:
            raise DataError(
                f"its columns are not this model's ({len(self.columns)} vs {len(columns)}); write to a new file",
                path=self.path,
            )
        return False

    def is_written_by(self, out: IO) -> bool:
        """True when ``out`` writes to this very file (``--resume out.csv >> out.csv``)."""
        try:
            return os.path.samestat(os.fstat(out.fileno()), os.stat(self.path))
        except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
            return False

    def check_appendable(self, out: IO, fmt: str, columns: list[str]) -> bool:
        """:meth:`needs_header`, after refusing (DataError) to append ``fmt`` rows to this very
        file when it holds the other format."""
        if self.format is not None and self.format != fmt and self.is_written_by(out):
            raise DataError(f"it holds {self.format} rows: resume it with --format {self.format}", path=self.path)
        return self.needs_header(fmt, columns)

    def trim_if_same_file(self, out: IO) -> bool:
        """If ``out`` is this very file and it ends in a partial record, cut that record off so
        appended rows start on a line of their own. Returns True if cut."""
        if not self.rows_cut_off or not self.is_written_by(out):
            return False
        try:
            out.flush()
            os.truncate(self.path, self.complete_bytes)
        except OSError as err:
            error = OutputError(err.strerror or str(err), path=self.path)
            error.errno = err.errno
            raise error from None
        return True


def _to_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _not_ours(name: str, why: str) -> DataError:
    return DataError(f"not a kerasser label output ({why}); resume only from what kerasser label wrote", path=name)


def _is_our_header(columns: list[str]) -> bool:
    return tuple(columns[: len(LEADING_COLUMNS)]) == LEADING_COLUMNS and columns[-1:] == [LAST_COLUMN]


def read_previous(path: str | os.PathLike, csv_guard: bool = True) -> PreviousOutput:
    """Read an earlier ``label`` output (CSV or JSONL, told apart by its content) for ``--resume``.

    A missing or empty file means nothing was labelled yet. A last record cut off mid-way (a run
    killed mid-row) is left out and :attr:`PreviousOutput.rows_cut_off` says so. ``csv_guard``: the
    CSV was written with formula guarding (undone here, so a guarded name matches its file).
    Raises OSError if the file exists but cannot be read, DataError (a ValueError) if it is not
    a label output (module docstring).
    """
    name = os.fspath(path)
    prev = PreviousOutput(name)
    if not os.path.exists(name):
        return prev
    with open(name, "rb") as f:
        data = f.read()
    prev.size = len(data)
    start = data.lstrip()[:1]
    if not start:
        prev.complete_bytes = prev.size
        return prev
    if start == b"{":
        prev.format, rows = "jsonl", _jsonl_rows(name, data, prev)
    else:
        prev.format, rows = "csv", _csv_rows(name, data, prev, csv_guard)
    for row in rows:
        p = row.get("path")
        if not isinstance(p, str) or not p:
            continue
        progress = prev.files.setdefault(p, FileProgress())
        end = _to_float(row.get("end"))
        if row.get("error") and end is None:  # the file failed; a window's error row (silence) does not close it
            progress.error = True
        if end is not None and (progress.end is None or end > progress.end):
            progress.end = end
        duration = _to_float(row.get("duration"))
        if duration is not None:
            progress.duration = duration
        start = _to_float(row.get("start"))
        if not row.get("error") and start is not None and end is not None and end > start:
            _add_weighted(progress, row, end - start)
    if prev.columns is None:
        prev.format = None  # nothing but a cut-off first record
    return prev


def _add_weighted(progress: FileProgress, row: dict, length: float) -> None:
    progress.weight += length
    for key, value in row.items():
        number = None if key in LEADING_COLUMNS or key == LAST_COLUMN else _to_float(value)
        if number is not None:
            progress.weighted[key] = progress.weighted.get(key, 0.0) + length * number


def _lines(data: bytes) -> Iterator[tuple[str, int]]:
    """Each line of ``data`` (its newline kept) as text, with the byte offset where it ends."""
    at = 0
    while at < len(data):
        end = data.find(b"\n", at)
        end = len(data) if end < 0 else end + 1
        yield data[at:end].decode("utf-8", errors="surrogateescape"), end
        at = end


def _jsonl_rows(name: str, data: bytes, prev: PreviousOutput) -> list[dict]:
    rows = []
    for number, (line, end) in enumerate(_lines(data), start=1):
        if not line.endswith("\n"):  # the cut-off last line: only the start of a row of ours may be dropped
            if not (line.startswith(_JSONL_START) or _JSONL_START.startswith(line)):
                raise _not_ours(name, f"line {number} is not a row it writes")
            break
        prev.complete_bytes = end
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            obj = None
        keys = list(obj) if isinstance(obj, dict) else None
        if keys is None or not _is_our_header(keys) or (prev.columns is not None and keys != prev.columns):
            raise _not_ours(name, f"line {number} is not a row it writes")
        prev.columns = prev.columns or keys
        rows.append(obj)
    return rows


def _csv_rows(name: str, data: bytes, prev: PreviousOutput, guard: bool) -> list[dict]:
    lines = list(_lines(data))
    ends = [end for _, end in lines]
    reader = csv.reader((text for text, _ in lines), strict=True)
    rows: list[dict] = []
    record_start = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return rows
        except csv.Error:
            # only a record cut off at the end may be malformed: one without its newline, or one
            # cut inside a quoted cell (an odd number of quotes)
            cut = not data.endswith(b"\n") or data[record_start:].count(b'"') % 2 == 1
            if reader.line_num < len(lines) or not cut:
                raise _not_ours(name, f"line {reader.line_num} is not CSV it writes") from None
            break
        record_end = ends[reader.line_num - 1]
        if record_end == len(data) and not data.endswith(b"\n"):
            break  # the cut-off last record
        if guard:
            values = [unguard_cell(v) for v in values]
        if values:
            if prev.columns is None:
                if not _is_our_header(values):
                    raise _not_ours(name, "its first line is not a header path,duration,start,end,...,error")
                prev.columns = values
            elif len(values) != len(prev.columns):
                raise _not_ours(name, f"line {reader.line_num} has {len(values)} cells, not {len(prev.columns)}")
            else:
                rows.append(dict(zip(prev.columns, values)))
        prev.complete_bytes = record_start = record_end
    # the partial record: the first record's may only be the start of a header
    if prev.columns is None:
        partial = data[record_start:].decode("utf-8", errors="surrogateescape")
        header = ",".join(LEADING_COLUMNS) + ","
        if not (partial.startswith(header) or header.startswith(partial)):
            raise _not_ours(name, "its first line is not a header path,duration,start,end,...,error")
    return rows


# --- one writer per output --------------------------------------------------------------------


def _locked_message(name: str) -> str:
    return f"{shown_path(name)} is being written by another kerasser label (locked)"


def _lock(fd: int, name: str) -> None:
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise OutputError(_locked_message(name)) from None
    except OSError:  # a file system without locks: go on unlocked
        pass


def lock_outputs(resume: str | os.PathLike | None, out: IO) -> list[int]:
    """Exclusive locks on the output being resumed (``resume``, when it exists) and on the regular
    file ``out`` writes to (when it is another file), each through a descriptor of its own, held
    until the process ends (keep the returned descriptors open). OutputError ``"<file> is being
    written by another kerasser label (locked)"`` when another process holds one. No-op where
    ``fcntl`` is missing (Windows)."""
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return []
    held: list[int] = []
    resume_stat = None
    if resume is not None and os.path.isfile(resume):
        try:
            fd = os.open(resume, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:  # unreadable: reading it says so
            return held
        _lock(fd, os.fspath(resume))
        held.append(fd)
        resume_stat = os.fstat(fd)
    try:
        fileno = out.fileno()
        out_stat = os.fstat(fileno)
    except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
        return held
    if not stat.S_ISREG(out_stat.st_mode) or (resume_stat is not None and os.path.samestat(out_stat, resume_stat)):
        return held
    link = f"/proc/self/fd/{fileno}"  # a descriptor of our own: the lock then ends with this process
    for flags in (os.O_RDONLY, os.O_WRONLY):
        try:
            fd = os.open(link, flags | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            name = os.readlink(link)
        except OSError:
            name = "<stdout>"
        _lock(fd, name)
        held.append(fd)
        break
    return held
