"""Batch labelling on Apache Beam: ``kerasser label --runner beam PATTERN... --out PREFIX``.

The pipeline: file patterns -> ``fileio.MatchAll`` (Beam's filesystems: local paths, ``gs://``,
``s3://``, ``hdfs://`` ... as the installed Beam extras allow) -> the audio names ``kerasser label``
would take from a folder -> ``Reshuffle`` (spread the files over workers) -> ``LabelFiles``, a DoFn
that loads the exported TFLite model once per worker (``setup``: one LiteRT interpreter each) and
yields the rows of ``kerasser.serve.labeling_files.label_source``, error rows included -> ``WriteToText``:
sharded ``PREFIX-SSSSS-of-NNNNN.csv`` (each shard with the header) or ``.jsonl``. Rows are
those of the single-machine ``label`` (formatted by the same writers), in no particular order.
Files on remote filesystems are copied to a local temporary file for decoding; their rows name
the original URI. A pattern that matches no file gets an error row (``no such file``), a local path
that is not a regular file (a FIFO, socket or device) one with ``not a regular file (FIFO)``.

Output: the shards are written under a hidden temporary folder beside ``PREFIX`` (whose creation
first proves the place writable: an unwritable ``--out`` is one error before any work), then
renamed onto ``PREFIX-...``; only after that are the shards of an earlier run onto the same prefix
that this run did not replace deleted, so a failed run leaves the earlier output as it was and a
finished one leaves exactly its own shards. A run that finds no audio at all publishes nothing.

Runners: the DirectRunner by default (this machine; ``--direct_num_workers`` and
``--direct_running_mode=multi_processing`` for several processes); Dataflow, Flink or Spark
through the usual Beam pipeline options after ``--`` (see the README).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence

from kerasser.data.input_files import is_audio_name, not_regular_reason, special_kind
from kerasser.errors import SettingsError, one_line
from kerasser.serve.labeling_files import _error_row, label_source
from kerasser.serve.writers import columns, make_writer

SUFFIXES = {"csv": ".csv", "jsonl": ".jsonl"}


def _beam():
    try:
        import apache_beam as beam
    except ImportError:
        raise SettingsError("--runner beam needs Apache Beam, which this install lacks: pip install 'kerasser[beam]'") from None
    return beam


class _Format:
    """Rows -> text lines with the writers ``kerasser label`` uses (no trailing newline: WriteToText adds it)."""

    def __init__(self, fmt: str, cols: list[str]) -> None:
        import io

        self._writer = make_writer(fmt, io.StringIO(), cols, header=False)

    def __call__(self, row: dict) -> str:
        return self._writer.format_row(row).rstrip("\n")


def header_line(fmt: str, cols: list[str]) -> str | None:
    """The CSV header (None for JSONL), as ``kerasser label`` writes it."""
    if fmt != "csv":
        return None
    import io

    out = io.StringIO()
    make_writer("csv", out, cols)
    return out.getvalue().rstrip("\n")


def make_match_fn():
    """The DoFn (a class made when Beam is importable): pattern -> ``(path, None)`` per file it
    matches, or ``(pattern, reason)`` when it matches none (or cannot be matched)."""
    beam = _beam()
    from apache_beam.io.filesystems import FileSystems

    class MatchPatterns(beam.DoFn):
        def process(self, pattern: str) -> Iterator[tuple[str, str | None]]:
            try:
                found = FileSystems.match([pattern])[0].metadata_list
            except Exception as err:  # noqa: BLE001  (a bad scheme or bucket: this pattern's error row)
                yield pattern, f"cannot list ({one_line(err)[:300]})"
                return
            if not found:
                yield pattern, "no file matches" if re.search(r"[*?\[]", pattern) else "no such file"
            for metadata in found:
                yield metadata.path, None

    return MatchPatterns()


def make_label_fn(model_dir: str | None, fmt: str, variant: str = "float32", segment: float | None = None):
    """The DoFn (a class made when Beam is importable): ``(path, error)`` -> formatted rows of that
    file (its error row when ``error`` is set)."""
    beam = _beam()
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.metrics import Metrics

    class LabelFiles(beam.DoFn):
        def __init__(self) -> None:
            self.files = Metrics.counter("kerasser", "files")
            self.errors = Metrics.counter("kerasser", "error_rows")

        def setup(self) -> None:
            from kerasser.serve.labeling import Labeler

            self.labeler = Labeler.load(model_dir, variant=variant)
            self.format = _Format(fmt, columns(self.labeler.tasks))

        def process(self, item: tuple[str, str | None]) -> Iterator[str]:
            path, error = item
            self.files.inc()
            if error is None and "://" not in path:
                kind = special_kind(path)  # a FIFO would block the read forever
                error = not_regular_reason(kind) if kind else None
            if error is not None:
                self.errors.inc()
                yield self.format(_error_row(path, error))
                return
            local, cleanup = path, None
            if "://" in path:  # a remote filesystem: decode a local copy, name the original in the rows
                cleanup = tempfile.mkdtemp(prefix="kerasser-beam-")
                local = os.path.join(cleanup, os.path.basename(path))
                with FileSystems.open(path) as src, open(local, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            try:
                for row in label_source(self.labeler, local, segment=segment):
                    row["path"] = path
                    if row.get("error"):
                        self.errors.inc()
                    yield self.format(row)
            finally:
                if cleanup:
                    shutil.rmtree(cleanup, ignore_errors=True)

    return LabelFiles()


def shards(prefix: str, suffix: str) -> list[str]:
    """The files ``PREFIX-SSSSS-of-NNNNN<suffix>`` that exist (not those of a longer prefix such as
    ``PREFIX-extra-...``), sorted."""
    from apache_beam.io.filesystems import FileSystems

    own = re.compile(re.escape(prefix) + r"-\d+-of-\d+" + re.escape(suffix))
    found = FileSystems.match([f"{prefix}-*-of-*{suffix}"])[0].metadata_list
    return sorted(m.path for m in found if own.fullmatch(m.path))


def _reason(err: BaseException) -> str:
    """The OS's words for an error Beam wrapped (``IOError(OSError(...))``), else its message."""
    inner = err
    while not getattr(inner, "strerror", None) and inner.args and isinstance(inner.args[0], BaseException):
        inner = inner.args[0]
    return getattr(inner, "strerror", None) or one_line(err)[:300]


def _staging(out_prefix: str, shown: str) -> tuple[str, str]:
    """A new hidden folder beside ``out_prefix`` and the prefix to write in it; SettingsError naming
    ``shown`` (the prefix as given) when the place cannot be written (tried by creating the folder
    and a file in it)."""
    from apache_beam.io.filesystems import FileSystems

    head, tail = FileSystems.split(out_prefix)
    folder = FileSystems.join(head, f".{tail}-kerasser-{uuid.uuid4().hex[:12]}")
    probe = FileSystems.join(folder, ".probe")
    try:
        FileSystems.mkdirs(folder)
        FileSystems.create(probe).close()
        FileSystems.delete([probe])
    except Exception as err:  # noqa: BLE001  (OSError, or BeamIOError from a remote filesystem)
        _remove(folder)
        raise SettingsError(f"cannot write the output there ({_reason(err)})", path=shown) from None
    return folder, FileSystems.join(folder, tail)


def _remove(folder: str) -> None:
    from apache_beam.io.filesystems import FileSystems

    try:
        if FileSystems.exists(folder):
            FileSystems.delete([folder])
    except Exception:  # noqa: BLE001, S110  (best effort: a leftover hidden folder harms no output)
        pass


def _publish(staged: str, out_prefix: str, suffix: str) -> list[str]:
    """Rename the shards written at ``staged`` onto ``out_prefix`` (replacing those of the same
    names), then delete the earlier run's other shards; returns the published paths."""
    from apache_beam.io.filesystems import FileSystems

    new = shards(staged, suffix)
    old = shards(out_prefix, suffix)
    targets = [out_prefix + path[len(staged):] for path in new]
    FileSystems.rename(new, targets)
    stale = sorted(set(old) - set(targets))
    if stale:
        FileSystems.delete(stale)
    return targets


def label_with_beam(
    patterns: Sequence[str],
    out_prefix: str,
    *,
    model_dir: str | None = None,
    fmt: str = "csv",
    variant: str = "float32",
    segment: float | None = None,
    pipeline_args: Sequence[str] = (),
) -> dict:
    """Run the labelling pipeline (see the module docstring); returns ``{"files", "error_rows",
    "outputs"}`` once it has finished (counters from the runner's metrics; outputs: the shard files
    published, none when no file was found). SettingsError before any work when ``out_prefix``
    cannot be written."""
    beam = _beam()
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions

    from kerasser.serve.labeling import Labeler

    labeler = Labeler.load(model_dir, variant=variant)  # fails here, once, for an unusable model
    cols = columns(labeler.tasks)
    if out_prefix.endswith(("/", os.sep)):
        raise SettingsError("names a folder: --out PREFIX names the output files (e.g. labels/rows)", path=out_prefix)
    shown = out_prefix
    if "://" not in out_prefix:
        out_prefix = os.path.abspath(out_prefix)
    try:
        pipeline = beam.Pipeline(options=PipelineOptions(list(pipeline_args)))
    except ValueError as err:  # e.g. an unknown runner
        raise SettingsError(f"bad Beam pipeline options ({one_line(err)[:300]})") from None
    folder, staged = _staging(out_prefix, shown)
    try:
        _ = (
            pipeline
            | "patterns" >> beam.Create(list(patterns))
            | "match" >> beam.ParDo(make_match_fn())
            | "audio names" >> beam.Filter(lambda item: item[1] is not None or is_audio_name(item[0].rsplit("/", 1)[-1]))
            | "spread" >> beam.Reshuffle()
            | "label" >> beam.ParDo(make_label_fn(model_dir, fmt, variant, segment))
            | "write" >> beam.io.WriteToText(staged, file_name_suffix=SUFFIXES[fmt], header=header_line(fmt, cols))
        )
        result = pipeline.run()
        result.wait_until_finish()
        query = result.metrics().query(MetricsFilter().with_namespace("kerasser"))["counters"]
        counters = {c.key.metric.name: c.committed for c in query}
        files = int(counters.get("files") or 0)
        outputs = _publish(staged, out_prefix, SUFFIXES[fmt]) if files else []
    finally:
        _remove(folder)
    return {"files": files, "error_rows": int(counters.get("error_rows") or 0), "outputs": outputs}
