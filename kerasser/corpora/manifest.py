"""CSV manifest reader: bring your own corpus.

Columns (header names are case-insensitive; other columns are ignored):

- ``path`` (required): audio file, relative paths resolved against the CSV's folder;
- ``speaker``: empty or absent -> the audio file's stem;
- ``split``: ``train``, ``dev``, ``test``, or empty/absent -> None;
- ``text`` (or ``transcript``): what is said, for the CTC auxiliary task; empty or absent -> None;
- task columns, by name (``arousal``, ``valence``, ``dominance``, ``emotion``) or letter
  (``a``, ``v``, ``d``, ``e``): class names such as ``high`` or ``fear``; empty -> no label.

Rows keep the CSV's order.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from kerasser.corpora.utterance import SPLITS, CorpusError, Utterance
from kerasser.tasks import TASKS, get_task

_FIELDS = ("path", "speaker", "split", "text", "transcript")


def read_manifest(csv_path: str | os.PathLike) -> list[Utterance]:
    """Utterances listed in a CSV manifest, in file order."""
    path = Path(csv_path).expanduser().absolute()
    if not path.is_file():
        reason = "not a file (expected a CSV manifest)" if path.exists() else "no such manifest file"
        raise CorpusError(path, reason)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise CorpusError(path, "empty manifest (no header line)")
            columns = _columns(path, header)
            utterances = [
                _utterance(path, reader.line_num, row, columns) for row in reader if any(c.strip() for c in row)
            ]
    except UnicodeDecodeError as err:
        raise CorpusError(path, f"not UTF-8 text ({err.reason} at byte {err.start})") from None
    except csv.Error as err:
        raise CorpusError(path, f"malformed CSV ({err})") from None
    except OSError as err:
        raise CorpusError(path, f"cannot read ({err.strerror or err})") from None
    if not utterances:
        raise CorpusError(path, "manifest lists no audio files")
    return utterances


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
