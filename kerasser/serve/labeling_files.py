"""Label files and folders: find the audio, read it (whole or in windows), build one row per file
or window, hand the rows to a writer. The engine behind ``kerasser label``.

- Which files, in which order, under which ``path``: :mod:`kerasser.data.input_files` (``find_audio``,
  re-exported here).
- ``segment="auto"`` (``kerasser label``'s default): files up to ``segment_over``
  (:data:`SEGMENT_OVER_SECONDS`) long give one row (start 0, end = duration); longer ones give a
  row per speech piece (:mod:`kerasser.data.segments`: voice activity detection, long segments cut at
  the model's length with overlap), read block by block; silence and non-speech get no row, and a
  file without speech gets the error row :data:`NO_SPEECH` (start 0, end = duration).
- ``segment=None`` or ``"none"``: files up to :data:`MAX_UNSEGMENTED_SECONDS` long give one row;
  longer ones, or every file when a ``segment`` length is given, give one row per window
  (:data:`DEFAULT_SEGMENT_SECONDS` unless ``segment`` says otherwise), read window by window so
  memory stays bounded for hour-long recordings; a last window under a second joins the one before.
- ``summary``: a segmented file's rows are followed by a summary row (:mod:`kerasser.serve.label_summary`).
- A file (or window) that cannot be labelled gives a row with its ``error`` and is reported through
  ``on_error(where, reason)``; labelling goes on with the next window or file. Digital silence
  (every sample zero) is such an error (:data:`SILENT`): any label for it would be made up. A
  segmented file that stops decoding gets an error row with the failed window's ``start`` and no
  ``end``, and the file ends there.
- ``previous`` (from :func:`kerasser.serve.label_resume.read_previous`) skips what an earlier, interrupted run
  already wrote: whole files, and for a segmented file the windows (or speech pieces: the file is
  read again, only what ends after its last row is labelled) up to its last row.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from kerasser.data import audio
from kerasser.data.audio import AudioError
from kerasser.data.input_files import AUDIO_EXTENSIONS, Source, find_audio, is_audio_name  # noqa: F401 (re-exported)
from kerasser.data.windows import plan_windows, probe, read_windows
from kerasser.errors import PredictionError, SettingsError, one_line
from kerasser.serve.label_resume import PreviousOutput
from kerasser.serve.label_summary import FileSummary
from kerasser.serve.writers import ATTENTION, TEXT, RowWriter, class_column

if TYPE_CHECKING:  # the Labeler calls this module (kerasser.serve.labeling_frames): annotations only
    from kerasser.serve.labeling import Labeler

MAX_UNSEGMENTED_SECONDS = 60.0  # without speech segments, files longer than this are cut ...
DEFAULT_SEGMENT_SECONDS = 10.0  # ... into windows of this length
SEGMENT_OVER_SECONDS = 10.0  # segment="auto": files longer than this are cut into speech pieces
from kerasser.data.segments import AUTO, NONE  # noqa: E402 (re-exported: --segment auto / none)

NO_SPEECH = "no speech found (voice activity detection): nothing to label"


def check_segment(segment: float | str | None) -> None:
    """SettingsError unless ``segment`` is ``"auto"``, ``"none"``, None or a positive length."""
    if segment in (AUTO, NONE, None):
        return
    if isinstance(segment, str) or not segment > 0:
        raise SettingsError(f"segment must be auto, none or a positive number of seconds, got {segment!r}")


@dataclasses.dataclass
class Summary:
    """What a :func:`label_files` call did."""

    files: int = 0  # files (sources) considered, skipped ones included
    skipped: int = 0  # already complete in the previous output
    failed: int = 0  # files with an error row written in this call
    rows: int = 0  # rows written in this call


def _speech(labeler: Labeler, path: str, duration: float, after: float | None) -> Iterator[dict]:
    """A long file's speech pieces (``segment="auto"``), as :func:`_pieces` gives them."""
    from kerasser.data.segments import file_pieces

    found, last = 0, 0.0
    try:
        for piece in file_pieces(path, labeler.sample_rate):
            found += 1
            last = piece.end
            if after is None or piece.end > after + 1e-3:
                yield {"duration": duration, "start": piece.start, "end": piece.end, "waveform": piece.waveform}
    except AudioError as err:  # the file stops decoding: an error row without an end closes it
        yield _error_row(path, err.reason, duration, last)
        return
    if not found:
        yield _error_row(path, NO_SPEECH, duration, 0.0, duration)


def _pieces(
    labeler: Labeler, path: str, segment: float | str | None, max_duration: float | None,
    default_segment: float | None, after: float | None, segment_over: float | None = None,
) -> Iterator[dict]:
    """A file's waveforms, whole, window by window or speech piece by piece (see ``label_source``):
    per piece ``{"duration", "start", "end", "waveform"}``, or an error row (``"error"`` set) where one fails."""
    max_duration = MAX_UNSEGMENTED_SECONDS if max_duration is None else max_duration
    default_segment = DEFAULT_SEGMENT_SECONDS if default_segment is None else default_segment
    segment_over = SEGMENT_OVER_SECONDS if segment_over is None else segment_over
    try:
        info = probe(path)
    except AudioError as err:
        yield _error_row(path, err.reason)
        return
    duration = info.duration
    if segment == AUTO:
        if duration > segment_over:
            yield from _speech(labeler, path, duration, after)
            return
        window = None
    elif segment in (None, NONE):
        window = default_segment if duration > max_duration else None
    else:
        window = segment
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
    segment: float | str | None = None,
    max_duration: float | None = None,
    default_segment: float | None = None,
    after: float | None = None,
    reference=None,
    segment_over: float | None = None,
    text: str | None = None,
) -> Iterator[dict]:
    """Rows for one file: one, or one per window or speech piece; the last row holds ``error`` if it failed.

    ``segment``: ``"auto"``: files longer than ``segment_over`` (default
    :data:`SEGMENT_OVER_SECONDS`) give a row per speech piece; a length: windows
    of it for every file; None or ``"none"``: files longer than ``max_duration`` (default
    :data:`MAX_UNSEGMENTED_SECONDS`) are cut into ``default_segment`` windows (default
    :data:`DEFAULT_SEGMENT_SECONDS`). ``after``: skip windows or pieces ending at or before this
    many seconds (resuming a segmented file). ``reference``: the file's speaker reference, for a
    speaker-normalising model (default: each window's own). ``text``: the file's transcript, for a
    text model; it is given with a row that stands for the whole file only (a window or a speech
    piece is labelled without it: the transcript says what the whole file says).
    """
    check_segment(segment)
    for piece in _pieces(labeler, path, segment, max_duration, default_segment, after, segment_over):
        if "error" in piece:
            yield piece
        else:
            whole = piece["start"] == 0.0 and piece["end"] == piece["duration"]
            yield _predict_row(labeler, path, piece["duration"], piece["start"], piece["end"], piece["waveform"],
                               reference, text if whole else None)


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
    segment: float | str | None = None,
    max_duration: float | None = None,
    default_segment: float | None = None,
    segment_over: float | None = None,
) -> dict[str, object]:
    """``{speaker: reference}`` of a speaker-normalising model over every readable, non-silent
    file (or window) of ``sources``, grouped by ``speaker_of(path)``. What cannot be read is
    left out here (labelling reports it)."""
    from kerasser.serve.inference import reference_of

    statistics: dict[str, list] = {}
    for source in sources:
        if source.error is not None:
            continue
        for piece in _pieces(labeler, source.path, segment, max_duration, default_segment, None, segment_over):
            if "error" not in piece and piece["waveform"].any():
                try:
                    stats = labeler.statistics(piece["waveform"])
                except Exception:  # noqa: BLE001, S112  (labelling the same piece reports the failure)
                    continue
                statistics.setdefault(speaker_of(source.path), []).append(stats)
    return {speaker: reference_of(items) for speaker, items in statistics.items()}


SILENT = "silent (every sample is zero): no emotion to label"


def _predict_row(
    labeler: Labeler, path: str, duration: float, start: float, end: float, waveform, reference=None, text=None
) -> dict:
    if not waveform.any():  # digital silence: any label would be made up
        return _error_row(path, SILENT, duration, start, end)
    try:
        result = labeler.predict_waveform(waveform, reference=reference, **({"text": text} if text else {}))
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
    segment: float | str | None = None,
    max_duration: float | None = None,
    default_segment: float | None = None,
    previous: PreviousOutput | None = None,
    on_error: Callable[[str, str], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    speaker_of: Callable[[str], str] | None = None,
    segment_over: float | None = None,
    summary: bool = False,
    text_of: Callable[[str], str | None] | None = None,
) -> Summary:
    """Label ``sources`` in order, writing each row as soon as it is made.

    ``segment``, ``max_duration``, ``default_segment``, ``segment_over``: as for
    :func:`label_source`. ``summary``: after a segmented file's rows, its summary row
    (:mod:`kerasser.serve.label_summary`).
    ``speaker_of(path)`` (speaker-normalising models only; e.g. :func:`folder_speaker`): first
    read every source to make each speaker's reference (:func:`speaker_references`: all of the
    speaker's files, those an earlier run labelled included), then label each file with its
    speaker's; without it each file (or window) is its own speaker. ``text_of(path)`` (text
    models only; e.g. a :func:`kerasser.data.transcripts.read_transcripts` table's ``get``): a
    file's transcript, or None (:func:`label_source`'s ``text``).
    ``on_error(where, reason)`` is called once per error row (``where``: the path, and the window's
    seconds for part of a segmented file), ``on_progress(n)`` after each file
    (``n`` files done so far). Returns a :class:`Summary`; ``failed`` counts this call's failures.
    """
    check_segment(segment)
    if text_of is not None and not labeler.reads_text:
        raise SettingsError("this model takes no text: transcripts are for models trained with --modality audio+text")
    references: dict = {}
    if speaker_of is not None:
        if not labeler.needs_reference:
            raise SettingsError("this model normalises each clip by itself: it takes no speakers")
        sources = list(sources)
        references = speaker_references(labeler, sources, speaker_of, segment=segment, max_duration=max_duration,
                                        default_segment=default_segment, segment_over=segment_over)
    done = Summary()
    for source in sources:
        done.files += 1
        earlier = previous.files.get(source.path) if previous is not None else None
        if earlier is not None and earlier.complete:
            done.skipped += 1
        elif source.error is not None:
            _write(writer, _error_row(source.path, source.error), done, on_error)
            done.failed += 1
        else:
            rows = label_source(
                labeler, source.path, segment=segment, max_duration=max_duration,
                default_segment=default_segment, after=earlier.end if earlier is not None else None,
                reference=references.get(speaker_of(source.path)) if speaker_of is not None else None,
                segment_over=segment_over, text=text_of(source.path) if text_of is not None else None,
            )
            totals = FileSummary(labeler.tasks, earlier.weighted, earlier.weight) if earlier else FileSummary(labeler.tasks)
            failed, last = False, None
            for row in rows:
                failed = _write(writer, row, done, on_error) or failed
                totals.add(row)
                last = row
            if summary and _wants_summary(totals, last, earlier):
                duration = last.get("duration") if last is not None else earlier.duration
                failed = _write(writer, totals.row(source.path, duration), done, on_error) or failed
            done.failed += failed
        if on_progress is not None:
            on_progress(done.files)
    return done


def _wants_summary(totals: FileSummary, last: dict | None, earlier) -> bool:
    """Whether a file whose rows ended with ``last`` gets a summary row: not when its one row stands
    for the whole file already, nor when it failed before any row (an error row without an end)."""
    if last is None:
        return earlier is not None  # resumed after all its pieces: only the summary is missing
    if totals.rows == 1 and earlier is None and totals.covers_file(last):
        return False
    return not (last["error"] and last.get("end") is None and not totals.weight)


def _write(writer: RowWriter, row: dict, done: Summary, on_error) -> bool:
    """Write ``row``, count it, report it if it is an error row; True for an error row."""
    writer.write(row)
    done.rows += 1
    if row["error"] and on_error is not None:
        on_error(_where(row), row["error"])
    return bool(row["error"])
