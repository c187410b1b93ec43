"""Batch labelling on Apache Beam: ``kerasser label --runner beam PATTERN... --out PREFIX``.

The pipeline: file patterns -> ``fileio.MatchAll`` (Beam's filesystems: local paths, ``gs://``,
``s3://``, ``hdfs://`` ... as the installed Beam extras allow) -> the audio names ``kerasser label``
would take from a folder -> ``Reshuffle`` (spread the files over workers) -> ``LabelFiles``, a DoFn
that loads the exported TFLite model once per worker (``setup``: one LiteRT interpreter each) and
yields the rows of ``kerasser.labeling_files.label_source``, error rows included -> ``WriteToText``:
sharded ``PREFIX-SSSSS-of-NNNNN.csv`` (each shard with the header) or ``.jsonl``. Rows are
those of the single-machine ``label`` (formatted by the same writers), in no particular order.
Files on remote filesystems are copied to a local temporary file for decoding; their rows name
the original URI.

Runners: the DirectRunner by default (this machine; ``--direct_num_workers`` and
``--direct_running_mode=multi_processing`` for several processes); Dataflow, Flink or Spark
through the usual Beam pipeline options after ``--`` (see the README).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence

from kerasser.labeling_files import is_audio_name, label_source
from kerasser.writers import columns, make_writer

SUFFIXES = {"csv": ".csv", "jsonl": ".jsonl"}


def _beam():
    try:
        import apache_beam as beam
    except ImportError:
        from kerasser.errors import SettingsError

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


def make_label_fn(model_dir: str | None, fmt: str, variant: str = "float32", segment: float | None = None):
    """The DoFn (a class made when Beam is importable): path -> formatted rows of that file."""
    beam = _beam()
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.metrics import Metrics

    class LabelFiles(beam.DoFn):
        def __init__(self) -> None:
            self.files = Metrics.counter("kerasser", "files")
            self.errors = Metrics.counter("kerasser", "error_rows")

        def setup(self) -> None:
            from kerasser.labeling import Labeler

            self.labeler = Labeler.load(model_dir, variant=variant)
            self.format = _Format(fmt, columns(self.labeler.tasks))

        def process(self, path: str) -> Iterator[str]:
            self.files.inc()
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
    written, where the runner can list them)."""
    beam = _beam()
    from apache_beam.io import fileio
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions

    from kerasser.labeling import Labeler

    labeler = Labeler.load(model_dir, variant=variant)  # fails here, once, for an unusable model
    cols = columns(labeler.tasks)
    options = PipelineOptions(list(pipeline_args))
    pipeline = beam.Pipeline(options=options)
    _ = (
        pipeline
        | "patterns" >> beam.Create(list(patterns))
        | "match" >> fileio.MatchAll(empty_match_treatment=fileio.EmptyMatchTreatment.ALLOW)
        | "paths" >> beam.Map(lambda metadata: metadata.path)
        | "audio names" >> beam.Filter(lambda path: is_audio_name(path.rsplit("/", 1)[-1]))
        | "spread" >> beam.Reshuffle()
        | "label" >> beam.ParDo(make_label_fn(model_dir, fmt, variant, segment))
        | "write" >> beam.io.WriteToText(out_prefix, file_name_suffix=SUFFIXES[fmt], header=header_line(fmt, cols))
    )
    result = pipeline.run()
    result.wait_until_finish()
    counters = {c.key.metric.name: c.committed for c in result.metrics().query(MetricsFilter().with_namespace("kerasser"))["counters"]}
    match = FileSystems.match([f"{out_prefix}-*-of-*{SUFFIXES[fmt]}"])[0]
    return {
        "files": int(counters.get("files") or 0),
        "error_rows": int(counters.get("error_rows") or 0),
        "outputs": sorted(m.path for m in match.metadata_list),
    }
