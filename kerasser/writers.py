"""Label rows out (CSV or JSON Lines, flushed per row) and back in (for ``--resume``).

Columns, derived from the model's tasks (one place for them)::

    path, duration, start, end, <task>, <task>_<class>..., ..., error

``duration`` is the whole file's length in seconds; ``start``/``end`` the part of it the row
covers (0 and ``duration`` for an unsegmented file); ``<task>`` the predicted class and
``<task>_<class>`` its probability, for every class in the model's order; ``error`` is empty for a
labelled row and holds the reason for a file (or window) that could not be labelled, whose other
values are then empty (CSV) or null (JSONL). Times are written to the millisecond, probabilities
to six decimals.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
from collections.abc import Iterable
from typing import IO, Any

from kerasser.errors import DataError, SettingsError

FORMATS = ("csv", "jsonl")
TIME_COLUMNS = ("duration", "start", "end")


def class_column(task: str, class_name: str) -> str:
    """Column of one class probability: ``arousal_high``."""
    return f"{task}_{class_name}"


def columns(tasks: Iterable[tuple[str, Iterable[str]]], text: bool = False, attention: bool = False) -> list[str]:
    """The column list for ``tasks`` [(name, classes), ...] in the model's output order, with a
    ``text`` column (the transcript) and an ``attention`` column (a JSON object: ``frame_seconds``
    and each task's weights per frame) before ``error`` when asked for."""
    cols = ["path", *TIME_COLUMNS]
    for name, classes in tasks:
        cols.append(name)
        cols.extend(class_column(name, c) for c in classes)
    if text:
        cols.append("text")
    if attention:
        cols.append("attention")
    cols.append("error")
    return cols


def _rounded(column: str, value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3 if column in TIME_COLUMNS else 6)
    return value


class RowWriter:
    """Writes rows (dicts keyed by column; missing keys and None are empty) to ``out``, flushing each."""

    format = ""

    def __init__(self, out: IO[str], cols: list[str], header: bool = True) -> None:
        self.out = out
        self.columns = list(cols)
        if header:
            self.write_header()

    def write_header(self) -> None:
        pass

    def write(self, row: dict) -> None:
        self.out.write(self.format_row(row))
        self.out.flush()

    def format_row(self, row: dict) -> str:
        raise NotImplementedError


class CsvWriter(RowWriter):
    format = "csv"

    def write_header(self) -> None:
        self.out.write(self._line(self.columns))
        self.out.flush()

    @staticmethod
    def _line(values: list[str]) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(values)
        return buf.getvalue()

    def format_row(self, row: dict) -> str:
        return self._line([self._cell(c, row.get(c)) for c in self.columns])

    @staticmethod
    def _cell(column: str, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.3f}" if column in TIME_COLUMNS else f"{value:.6f}"
        if isinstance(value, (dict, list)):
            return json.dumps(value, separators=(",", ":"))
        return str(value)


class JsonlWriter(RowWriter):
    format = "jsonl"

    def format_row(self, row: dict) -> str:
        obj = {c: _rounded(c, row.get(c)) for c in self.columns}
        if obj.get("error") is None:
            obj["error"] = ""
        return json.dumps(obj, ensure_ascii=False) + "\n"


def make_writer(fmt: str, out: IO[str], cols: list[str], header: bool = True) -> RowWriter:
    """A CSV or JSONL writer for ``cols`` on ``out`` (header written now for CSV unless ``header=False``)."""
    if fmt == "csv":
        return CsvWriter(out, cols, header)
    if fmt == "jsonl":
        return JsonlWriter(out, cols, header)
    raise SettingsError(f"unknown output format {fmt!r}; expected one of {', '.join(FORMATS)}")


# --- resume -----------------------------------------------------------------------------------


@dataclasses.dataclass
class FileProgress:
    """What an earlier output holds for one path: the furthest ``end`` labelled, the file's
    ``duration``, and whether an error row without an ``end`` (the file failed) closed it; a
    window's error row (a silent window) has an ``end`` and counts as labelled."""

    end: float | None = None
    duration: float | None = None
    error: bool = False

    @property
    def complete(self) -> bool:
        """True when nothing is left to label for this path (a file's error row also closes it)."""
        if self.error or self.end is None or self.duration is None:
            return True
        return self.end >= self.duration - 1e-3


@dataclasses.dataclass
class PreviousOutput:
    """An earlier output read back: its ``format`` (None when it holds no complete line), the CSV
    header (``columns``), the paths it has rows for, and where its last complete line ends."""

    path: str
    format: str | None = None
    columns: list[str] | None = None
    files: dict[str, FileProgress] = dataclasses.field(default_factory=dict)
    complete_bytes: int = 0
    size: int = 0

    @property
    def rows_cut_off(self) -> bool:
        """True when the file ends in a partial line (a run stopped mid-row)."""
        return self.size > self.complete_bytes

    def has_header_for(self, fmt: str) -> bool:
        """True when rows of ``fmt`` can be appended to this output without a new header."""
        if fmt == "jsonl":
            return self.format == "jsonl"
        return self.format == "csv" and self.columns is not None

    def needs_header(self, fmt: str, columns: list[str]) -> bool:
        """Whether rows of ``fmt`` with ``columns`` appended to this output need a header first;
        DataError when it is a CSV of other columns (another model's output)."""
        if not self.has_header_for(fmt):
            return True
        if fmt == "csv" and self.columns != columns:
            raise DataError(
                f"its columns are not this model's ({len(self.columns)} vs {len(columns)}); write to a new file",
                path=self.path,
            )
        return False

    def trim_if_same_file(self, out: IO) -> bool:
        """If ``out`` is this very file (``--resume out.csv >> out.csv``) and it ends in a partial
        line, cut that line off so appended rows start on a line of their own. Returns True if cut."""
        if not self.rows_cut_off:
            return False
        try:
            same = os.path.samestat(os.fstat(out.fileno()), os.stat(self.path))
        except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
            return False
        if not same:
            return False
        out.flush()
        os.truncate(self.path, self.complete_bytes)
        return True


def _to_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def read_previous(path: str | os.PathLike) -> PreviousOutput:
    """Read an earlier ``label`` output (CSV or JSONL, told apart by its content) for ``--resume``.

    A missing or empty file means nothing was labelled yet. A last line without its newline (a
    run killed mid-row) is ignored, as are lines that do not parse. Raises OSError if the file
    exists but cannot be read, ValueError if it is not a label output.
    """
    name = os.fspath(path)
    prev = PreviousOutput(name)
    if not os.path.exists(name):
        return prev
    with open(name, "rb") as f:
        data = f.read()
    prev.size = len(data)
    prev.complete_bytes = data.rfind(b"\n") + 1
    text = data[: prev.complete_bytes].decode("utf-8", errors="surrogateescape")
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return prev
    if lines[0].lstrip().startswith("{"):
        prev.format = "jsonl"
        rows = _jsonl_rows(lines)
    else:
        prev.format = "csv"
        header = next(csv.reader([lines[0]]))
        if "path" not in header:
            raise DataError("not a kerasser label output (no 'path' column in its first line)", path=name)
        prev.columns = header
        rows = _csv_rows(text, header)
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
    return prev


def _jsonl_rows(lines: list[str]) -> Iterable[dict]:
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            yield obj


def _csv_rows(text: str, header: list[str]) -> Iterable[dict]:
    reader = csv.reader(io.StringIO(text))
    seen_header = False
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error:  # e.g. a NUL byte: skip the line
            continue
        if not values:
            continue
        if not seen_header:
            seen_header = True
        elif len(values) == len(header):
            yield dict(zip(header, values))
