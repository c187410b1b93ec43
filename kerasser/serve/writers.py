"""Label rows out: CSV or JSON Lines, flushed per row (read back for ``--resume`` by
:mod:`kerasser.serve.label_resume`).

Columns, derived from the model's tasks (one place for them)::

    path, duration, start, end, <task>, <task>_<class>..., ..., error

``duration`` is the whole file's length in seconds; ``start``/``end`` the part of it the row
covers (0 and ``duration`` for an unsegmented file); ``<task>`` the predicted class and
``<task>_<class>`` its probability, for every class in the model's order; ``error`` is empty for a
labelled row and holds the reason for a file (or window) that could not be labelled, whose other
values are then empty (CSV) or null (JSONL). Times are written to the millisecond, probabilities
to six decimals; a value that is not a finite number is written empty (CSV) or null (JSONL), as
pandas does, so JSONL is always JSON (no ``NaN``).

CSV cells are quoted as Python's csv module does, and also when they hold a carriage return, so
no name splits a row. With ``csv_guard`` (the default) a text cell that a spreadsheet would take
for a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return: OWASP's CSV
injection list) gets a leading ``'``, as does one that starts with ``'`` itself, so that
:func:`unguard_cell` gives every cell back exactly (``--resume`` matches guarded names).

A write that fails (disk full, a closed or read-only stdout) raises :class:`OutputError` naming
the output (standard output by the file it goes to, else ``<stdout>``) and the system's reason.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable
from typing import IO, Any

from kerasser.errors import OutputError, SettingsError

FORMATS = ("csv", "jsonl")
TIME_COLUMNS = ("duration", "start", "end")
TEXT = "text"  # the transcript's key in a prediction and its column in label output
ATTENTION = "attention"  # the attention weights' key in a prediction and their column in label output


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


# Leading characters that make a spreadsheet read a cell as a formula (OWASP: CSV injection), and
# the quote that neutralises them (guarded too, so that unguarding is exact).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
GUARD = "'"


def guard_cell(text: str) -> str:
    """``text`` as a spreadsheet shows it verbatim: a ``'`` before a formula's first character
    (or before a leading ``'``)."""
    return GUARD + text if text.startswith((*FORMULA_STARTS, GUARD)) else text


def unguard_cell(text: str) -> str:
    """The cell :func:`guard_cell` was given."""
    return text[1:] if text.startswith(GUARD) and text[1:].startswith((*FORMULA_STARTS, GUARD)) else text


def finite_or_none(value: Any) -> Any:
    """``value`` with every float that is not finite (NaN, inf), in lists and dicts too, made None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(v) for v in value]
    return value


def _rounded(column: str, value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3 if column in TIME_COLUMNS else 6)
    return value


def output_name(out: IO) -> str:
    """How messages name an output stream: its file name; for standard output the file it was
    redirected to where the system says (``/proc/self/fd``), else ``<stdout>``."""
    name = getattr(out, "name", None)
    if name == "<stdout>":
        try:
            target = os.readlink(f"/proc/self/fd/{out.fileno()}")
        except (OSError, AttributeError, ValueError, io.UnsupportedOperation):
            target = ""
        return target if target.startswith("/") else name  # not "pipe:[...]" or "socket:[...]"
    return name if isinstance(name, str) else "<output>"


class RowWriter:
    """Writes rows (dicts keyed by column; missing keys and None are empty) to ``out``, flushing each.
    A failed write or flush raises OutputError (``errno`` set) naming ``out``."""

    format = ""

    def __init__(self, out: IO[str], cols: list[str], header: bool = True) -> None:
        self.out = out
        self.columns = list(cols)
        if header:
            self.write_header()

    def write_header(self) -> None:
        pass

    def write(self, row: dict) -> None:
        self._emit(self.format_row(row))

    def _emit(self, text: str) -> None:
        try:
            self.out.write(text)
            self.out.flush()
        except OSError as err:
            error = OutputError(err.strerror or str(err), path=output_name(self.out))
            error.errno = err.errno
            raise error from None

    def format_row(self, row: dict) -> str:
        raise NotImplementedError


class CsvWriter(RowWriter):
    """``guard`` (default True): neutralise cells a spreadsheet would take for formulas (module docstring)."""

    format = "csv"

    def __init__(self, out: IO[str], cols: list[str], header: bool = True, guard: bool = True) -> None:
        self.guard = guard
        super().__init__(out, cols, header)

    def write_header(self) -> None:
        self._emit(self._line([self._text(c) for c in self.columns]))

    @staticmethod
    def _line(values: list[str]) -> str:
        buf = io.StringIO()
        # "\r\n" makes the csv module quote cells holding a carriage return (with "\n" it quotes only
        # newlines, and readers split the row at the bare CR); the line still ends in "\n"
        csv.writer(buf, lineterminator="\r\n").writerow(values)
        return buf.getvalue()[:-2] + "\n"

    def format_row(self, row: dict) -> str:
        return self._line([self._cell(c, row.get(c)) for c in self.columns])

    def _text(self, text: str) -> str:
        return guard_cell(text) if self.guard else text

    def _cell(self, column: str, value: Any) -> str:
        value = finite_or_none(value)
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:.3f}" if column in TIME_COLUMNS else f"{value:.6f}"
        if isinstance(value, (dict, list)):
            return json.dumps(value, separators=(",", ":"))
        return self._text(str(value))


class JsonlWriter(RowWriter):
    format = "jsonl"

    def format_row(self, row: dict) -> str:
        obj = {c: _rounded(c, finite_or_none(row.get(c))) for c in self.columns}
        if obj.get("error") is None:
            obj["error"] = ""
        return json.dumps(obj, ensure_ascii=False, allow_nan=False) + "\n"


class FrameWriter(RowWriter):
    """Collects rows for a pandas DataFrame (:meth:`frame`) instead of writing them: the Python
    API's rows are the CLI's, from the same pipeline. Values are rounded as the CSV and JSONL
    writers round them (times to the millisecond, probabilities to six decimals); ``numeric``
    columns (the probabilities) are float64 (NaN in error rows), as are the times."""

    format = "frame"

    def __init__(self, cols: list[str], numeric: Iterable[str] = ()) -> None:
        super().__init__(None, cols, header=False)
        self.numeric = [*TIME_COLUMNS, *numeric]
        self.rows: list[dict] = []

    def write(self, row: dict) -> None:
        self.rows.append({c: _rounded(c, finite_or_none(row.get(c))) for c in self.columns})

    def frame(self, rename: dict[str, str] | None = None):
        """The rows as a DataFrame indexed by ``(file, start, end)`` (start and end as
        ``pandas.Timedelta``, as audinterface's segmented index; NaT where unknown), with the other
        columns in the CSV's order; ``rename`` maps the pipeline's paths to the names to show."""
        import pandas as pd

        rows = self.rows if not rename else [{**r, "path": rename.get(r["path"], r["path"])} for r in self.rows]
        table = pd.DataFrame(rows, columns=self.columns)
        table = table.astype({c: "float64" for c in self.numeric if c in table.columns})
        table["error"] = table["error"].fillna("")
        index = pd.MultiIndex.from_arrays(
            [table["path"].astype(object), *(pd.to_timedelta((table[c] * 1000).round(), unit="ms")  # exact ms
                                             for c in ("start", "end"))],
            names=["file", "start", "end"],
        )
        return table.drop(columns=["path", "start", "end"]).set_axis(index)


def make_writer(fmt: str, out: IO[str], cols: list[str], header: bool = True, csv_guard: bool = True) -> RowWriter:
    """A CSV or JSONL writer for ``cols`` on ``out`` (header written now for CSV unless ``header=False``;
    ``csv_guard``: see :class:`CsvWriter`)."""
    if fmt == "csv":
        return CsvWriter(out, cols, header, guard=csv_guard)
    if fmt == "jsonl":
        return JsonlWriter(out, cols, header)
    raise SettingsError(f"unknown output format {fmt!r}; expected one of {', '.join(FORMATS)}")

