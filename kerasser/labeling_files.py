"""Label files and folders: find the audio, read it (whole or in windows), build one row per file
or window, hand the rows to a writer. The engine behind ``kerasser label``.

- Which files, in which order, under which ``path``: :mod:`kerasser.input_files` (``find_audio``,
  re-exported here).
- Files up to :data:`MAX_UNSEGMENTED_SECONDS` long give one row (start 0, end = duration); longer
  ones, or every file when a ``segment`` length is given, give one row per window
  (:data:`DEFAULT_SEGMENT_SECONDS` unless ``segment`` says otherwise), read window by window so
  memory stays bounded for hour-long recordings; a last window under a second joins the one before.
- A file (or window) that cannot be labelled gives a row with its ``error`` and is reported through
  ``on_error(where, reason)``; labelling goes on with the next window or file. Digital silence
  (every sample zero) is such an error (:data:`SILENT`): any label for it would be made up. A
  segmented file that stops decoding gets an error row with the failed window's ``start`` and no
  ``end``, and the file ends there.
- ``previous`` (from :func:`kerasser.writers.read_previous`) skips what an earlier, interrupted run
  already wrote: whole files, and for a segmented file the windows up to its last row.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator

from kerasser import audio
from kerasser.audio import AudioError
from kerasser.audio_windows import plan_windows, probe, read_windows
from kerasser.errors import PredictionError, SettingsError, one_line
from kerasser.input_files import AUDIO_EXTENSIONS, Source, find_audio, is_audio_name  # noqa: F401 (re-exported)
from kerasser.labeling import ATTENTION, TEXT, Labeler
from kerasser.writers import PreviousOutput, RowWriter, class_column

MAX_UNSEGMENTED_SECONDS = 60.0  # files longer than this are segmented automatically ...
DEFAULT_SEGMENT_SECONDS = 10.0  # ... into windows of this length


@dataclasses.dataclass
class Summary:
    """What a :func:`label_files` call did."""

    files: int = 0  # files (sources) considered, skipped ones included
    skipped: int = 0  # already complete in the previous output
    failed: int = 0  # files with an error row written in this call
    rows: int = 0  # rows written in this call


def _pieces(
    labeler: Labeler, path: str, segment: float | None, max_duration: float | None,
    default_segment: float | None, after: float | None,
) -> Iterator[dict]:
    """A file's waveforms, whole or window by window (see ``label_source``): per piece
    ``{"duration", "start", "end", "waveform"}``, or an error row (``"error"`` set) where one fails."""
    max_duration = MAX_UNSEGMENTED_SECONDS if max_duration is None else max_duration
    default_segment = DEFAULT_SEGMENT_SECONDS if default_segment is None else default_segment
    try:
        info = probe(path)
    except AudioError as err:
        yield _error_row(path, err.reason)
        return
    duration = info.duration
    window = segment if segment is not None else (default_segment if duration > max_duration else None)
    if window is None:
        try:
            waveform = audio.load(path, sample_rate=labeler.sample_rate)
        except AudioError as err:
            yield _error_row(path, err.reason, duration)
            return
        yield {"duration": duration, "start": 0.0, "end": duration, "waveform": waveform}
        return

    bounds = plan_windows(duration, window)
    if after is not None:
        bounds = [b for b in bounds if b[1] > after + 1e-3]
    done = 0
    try:
        for win in read_windows(path, bounds, target_rate=labeler.sample_rate):
            done += 1
            # a window that is silent or that the model fails on gets its error row; the next goes on
            if win.error is not None:
                yield _error_row(path, win.error, duration, win.start, win.end)
            else:
                yield {"duration": duration, "start": win.start, "end": win.end, "waveform": win.waveform}
    except AudioError as err:
        # the file stops decoding: the row names the window it failed in (start) and has no end,
        # which closes the file for --resume as it does here
        start = bounds[done][0] if done < len(bounds) else None
        yield _error_row(path, err.reason, duration, start)


def label_source(
    labeler: Labeler,
    path: str,
    *,
    segment: float | None = None,
    max_duration: float | None = None,
    default_segment: float | None = None,
    after: float | None = None,
    reference=None,
) -> Iterator[dict]:
    """Rows for one file: one, or one per window; the last row holds ``error`` if it failed.

    ``segment``: window length for every file; else files longer than ``max_duration``
    (default :data:`MAX_UNSEGMENTED_SECONDS`) are cut into ``default_segment`` windows (default
    :data:`DEFAULT_SEGMENT_SECONDS`). ``after``: skip windows ending at or before this many
    seconds (resuming a segmented file). ``reference``: the file's speaker reference, for a
    speaker-normalising model (default: each window's own).
    """
    for piece in _pieces(labeler, path, segment, max_duration, default_segment, after):
        if "error" in piece:
            yield piece
        else:
            yield _predict_row(labeler, path, piece["duration"], piece["start"], piece["end"], piece["waveform"],
                               reference)


def folder_speaker(path: str) -> str:
    """The speaker of a file for ``--speakers folder``: the folder it is in."""
    return os.path.dirname(os.path.normpath(path))


def speaker_table(table: str | os.PathLike) -> Callable[[str], str]:
    """The speaker of a file for ``--speakers TABLE.csv``: a CSV file with ``path`` and ``speaker``
    columns (paths as ``kerasser label`` writes them, compared after ``os.path.normpath``). A file
    the table does not name is its own speaker. SettingsError naming the table when it cannot be
    read or lacks a column."""
    import csv

    try:
        with open(table, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = {"path", "speaker"} - set(reader.fieldnames or ())
            if missing:
                raise SettingsError(f"{table}: no {' or '.join(sorted(missing))} column (a speaker table needs "
                                    "path and speaker)")
            speakers = {os.path.normpath(row["path"]): row["speaker"] for row in reader if row.get("path")}
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise SettingsError(f"{table}: cannot read the speaker table ({one_line(err)})") from None

    def speaker_of(path: str) -> str:
        key = os.path.normpath(path)
        return f"table:{speakers[key]}" if key in speakers else f"file:{key}"

    return speaker_of


def speaker_references(
    labeler: Labeler,
    sources: Iterable[Source],
    speaker_of: Callable[[str], str],
    *,
    segment: float | None = None,
    max_duration: float | None = None,
    default_segment: float | None = None,
) -> dict[str, object]:
    """``{speaker: reference}`` of a speaker-normalising model over every readable, non-silent
    file (or window) of ``sources``, grouped by ``speaker_of(path)``. What cannot be read is
    left out here (labelling reports it)."""
    from kerasser.inference import reference_of

    statistics: dict[str, list] = {}
    for source in sources:
        if source.error is not None:
            continue
        for piece in _pieces(labeler, source.path, segment, max_duration, default_segment, None):
            if "error" not in piece and piece["waveform"].any():
                try:
                    stats = labeler.statistics(piece["waveform"])
                except Exception:  # noqa: BLE001, S112  (labelling the same piece reports the failure)
                    continue
                statistics.setdefault(speaker_of(source.path), []).append(stats)
    return {speaker: reference_of(items) for speaker, items in statistics.items()}


SILENT = "silent (every sample is zero): no emotion to label"


def _predict_row(
    labeler: Labeler, path: str, duration: float, start: float, end: float, waveform, reference=None
) -> dict:
    if not waveform.any():  # digital silence: any label would be made up
        return _error_row(path, SILENT, duration, start, end)
    try:
        result = labeler.predict_waveform(waveform, reference=reference)
    except PredictionError as err:  # non-finite or out-of-range outputs: no label may be made from them
        return _error_row(path, err.reason, duration, start, end)
    except Exception as err:  # a model failure on one input must not stop the other files
        reason = one_line(f"prediction failed ({type(err).__name__}: {err})")
        return _error_row(path, reason, duration, start, end)
    row = {"path": path, "duration": duration, "start": start, "end": end, "error": ""}
    for task, pred in result.items():
        if task in (TEXT, ATTENTION):
            row[task] = pred
            continue
        row[task] = pred["label"]
        for cls, p in pred["probabilities"].items():
            row[class_column(task, cls)] = p
    return row


def _where(row: dict) -> str:
    """The path of an error row, with the window's seconds when it stands for part of the file."""
    start, end = row.get("start"), row.get("end")
    if start is None or (start == 0 and end in (None, row.get("duration"))):
        return row["path"]
    if end is None:
        return f"{row['path']} [from {start:.1f} s]"
    return f"{row['path']} [{start:.1f}-{end:.1f} s]"


def _error_row(path: str, reason: str, duration=None, start=None, end=None) -> dict:
    return {"path": path, "duration": duration, "start": start, "end": end, "error": reason or "error"}


def label_files(
    labeler: Labeler,
    sources: Iterable[Source],
    writer: RowWriter,
    *,
    segment: float | None = None,
    max_duration: float | None = None,
    default_segment: float | None = None,
    previous: PreviousOutput | None = None,
    on_error: Callable[[str, str], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    speaker_of: Callable[[str], str] | None = None,
) -> Summary:
    """Label ``sources`` in order, writing each row as soon as it is made.

    ``segment``, ``max_duration``, ``default_segment``: as for :func:`label_source`.
    ``speaker_of(path)`` (speaker-normalising models only; e.g. :func:`folder_speaker`): first
    read every source to make each speaker's reference (:func:`speaker_references`: all of the
    speaker's files, those an earlier run labelled included), then label each file with its
    speaker's; without it each file (or window) is its own speaker.
    ``on_error(where, reason)`` is called once per error row (``where``: the path, and the window's
    seconds for part of a segmented file), ``on_progress(n)`` after each file
    (``n`` files done so far). Returns a :class:`Summary`; ``failed`` counts this call's failures.
    """
    if segment is not None and segment <= 0:
        raise SettingsError(f"segment must be positive, got {segment}")
    references: dict = {}
    if speaker_of is not None:
        if not labeler.needs_reference:
            raise SettingsError("this model normalises each clip by itself: it takes no speakers")
        sources = list(sources)
        references = speaker_references(labeler, sources, speaker_of, segment=segment, max_duration=max_duration,
                                        default_segment=default_segment)
    summary = Summary()
    for source in sources:
        summary.files += 1
        earlier = previous.files.get(source.path) if previous is not None else None
        if earlier is not None and earlier.complete:
            summary.skipped += 1
        elif source.error is not None:
            writer.write(_error_row(source.path, source.error))
            summary.rows += 1
            summary.failed += 1
            if on_error is not None:
                on_error(source.path, source.error)
        else:
            after = earlier.end if earlier is not None else None
            rows = label_source(
                labeler, source.path, segment=segment, max_duration=max_duration,
                default_segment=default_segment, after=after,
                reference=references.get(speaker_of(source.path)) if speaker_of is not None else None,
            )
            failed = False
            for row in rows:
                writer.write(row)
                summary.rows += 1
                if row["error"]:
                    failed = True
                    if on_error is not None:
                        on_error(_where(row), row["error"])
            summary.failed += failed
        if on_progress is not None:
            on_progress(summary.files)
    return summary
