"""CSV manifest reader: bring your own corpus.

Columns (header names are case-insensitive; other columns are ignored):

- ``path`` (required): audio file, relative paths resolved against the CSV's folder;
- ``speaker``: empty or absent -> the audio file's stem;
- ``split``: ``train``, ``dev``, ``test``, or empty/absent -> None;
- ``text`` (or ``transcript``): what is said, for the CTC auxiliary task; empty or absent -> None;
- task columns, by name (``arousal``, ``valence``, ``dominance``, ``emotion``) or letter
  (``a``, ``v``, ``d``, ``e``): class names such as ``high`` or ``fear``; empty -> no label.

Rows keep the CSV's order. The CSV is read strictly (``csv`` with ``strict=True``): a quote that is
never closed, text after a closing quote, or a row with more non-empty fields than the header (an
unquoted comma in a path) is an error naming the line, never rows silently merged or shifted. An
audio file listed twice (by any path that resolves to it) is an error naming both lines: in two
splits it leaks what is tested into training, with two labels one is wrong, and twice alike it
counts twice; ``allow_duplicates=True`` keeps every row.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

from kerasser.data.corpora.utterance import SPLITS, CorpusError, Utterance
from kerasser.tasks import TASKS, get_task

_FIELDS = ("path", "speaker", "split", "text", "transcript")


def read_manifest(csv_path: str | os.PathLike, allow_duplicates: bool = False) -> list[Utterance]:
    """Utterances listed in a CSV manifest, in file order (see the module docstring for the checks)."""
    path = Path(csv_path).expanduser().absolute()
    if not path.is_file():
        reason = "not a file (expected a CSV manifest)" if path.exists() else "no such manifest file"
        raise CorpusError(path, reason)
    rows: list[tuple[int, Utterance, str]] = []  # (line, utterance, the path as written)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, strict=True)
            header = next(reader, None)
            if header is None:
                raise CorpusError(path, "empty manifest (no header line)")
            columns = _columns(path, header)
            for line, row in csv_rows(path, reader):
                extra = [c for c in row[len(header):] if c.strip()]
                if extra:
                    raise CorpusError(path, f"{len(header) + len(extra)} fields but the header has {len(header)} "
                                            "(quote a field that holds a comma)", line=line)
                rows.append((line, _utterance(path, line, row, columns), row[columns["path"]].strip()))
    except UnicodeDecodeError as err:
        raise CorpusError(path, f"not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise CorpusError(path, f"cannot read ({err.strerror or err})") from None
    if not rows:
        raise CorpusError(path, "manifest lists no audio files")
    if not allow_duplicates:
        _check_duplicates(path, rows)
    return [utterance for _, utterance, _ in rows]


def csv_rows(path: Path, reader) -> Iterator[tuple[int, list[str]]]:
    """``(line, row)`` for each non-blank row left in a strict ``csv.reader`` of ``path`` (``line``:
    where the row starts; a quoted field may span lines); a malformed row is a CorpusError naming
    its line."""
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise CorpusError(path, f"malformed CSV ({_csv_reason(err)})", line=line) from None
        if any(c.strip() for c in row):
            yield line, row


def _csv_reason(err: csv.Error) -> str:
    reason = str(err)
    if reason == "unexpected end of data":
        return "a quote opened in this row is never closed"
    return reason


def _check_duplicates(path: Path, rows: list[tuple[int, Utterance, str]]) -> None:
    """CorpusError naming both lines when one audio file is listed twice."""
    first: dict[str, tuple[int, Utterance]] = {}
    for line, utterance, shown in rows:
        key = os.path.realpath(utterance.path)
        if key not in first:
            first[key] = (line, utterance)
            continue
        before, other = first[key]
        if other.split != utterance.split:
            why = (f"in {other.split or 'no split'} there and {utterance.split or 'no split'} here: one file in two "
                   "splits leaks what is tested into training")
        elif other.labels != utterance.labels:
            why = f"labelled {_labels(other)} there and {_labels(utterance)} here"
        else:
            why = "alike: it would count twice"
        raise CorpusError(path, f"{shown} is also listed on line {before}, {why}; list each file once", line=line)


def _labels(utterance: Utterance) -> str:
    return " ".join(f"{task}={TASKS[task].classes[i]}" for task, i in utterance.labels.items()) or "nothing"


def _columns(path: Path, header: list[str]) -> dict[str, int]:
    """Header -> {field or task name: column index}; CorpusError without ``path`` or on duplicates."""
    columns: dict[str, int] = {}
    for i, raw in enumerate(header):
        name = raw.strip().lower()
        if name not in _FIELDS:
            try:
                name = get_task(name).name
            except ValueError:
                continue  # unrelated column (duration, notes, ...)
        if name in columns:
            first = header[columns[name]].strip()
            raise CorpusError(path, f"column {raw.strip()!r} duplicates column {first!r}", line=1)
        columns[name] = i
    if "path" not in columns:
        raise CorpusError(path, f"no 'path' column in header {','.join(header)!r}", line=1)
    return columns


def _utterance(path: Path, line: int, row: list[str], columns: dict[str, int]) -> Utterance:
    """One CSV row as an Utterance; CorpusError naming the line for bad values."""

    def cell(name: str) -> str:
        i = columns.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    audio = cell("path")
    if not audio:
        raise CorpusError(path, "empty path", line=line)
    audio_path = os.path.abspath(os.path.join(path.parent, os.path.expanduser(audio)))
    split = cell("split").lower() or None
    if split is not None and split not in SPLITS:
        expected = ", ".join(SPLITS)
        raise CorpusError(path, f"unknown split {cell('split')!r}; expected one of {expected} or empty", line=line)
    labels: dict[str, int] = {}
    for task in TASKS.values():
        value = cell(task.name)
        if value:
            try:
                labels[task.name] = task.index(value)
            except ValueError as err:
                raise CorpusError(path, str(err), line=line) from None
    return Utterance(
        path=audio_path,
        speaker=cell("speaker") or Path(audio_path).stem,
        split=split,
        labels=labels,
        transcript=cell("text") or cell("transcript") or None,
        corpus="manifest",
    )
