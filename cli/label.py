"""``kerasser label``: argument parsing only; the work is in kerasser.serve.labeling_files and kerasser.serve.writers."""

from __future__ import annotations

import contextlib
import os
import sys

import click
from kerasser_cli.brief import Brief
from kerasser_cli.main import friendly_errors

from kerasser.config import SAMPLE_RATE
from kerasser.contract import VARIANTS
from kerasser.serve.inference import BACKENDS
from kerasser.serve.labeling_files import (
    DEFAULT_SEGMENT_SECONDS,
    MAX_UNSEGMENTED_SECONDS,
    SEGMENT_OVER_SECONDS,
)
from kerasser.serve.live import SAMPLE_FORMATS
from kerasser.serve.writers import FORMATS


class _Segment(click.ParamType):
    """auto, none, or a window length of at least 1 s."""

    name = "auto|none|SECONDS"

    def convert(self, value, param, ctx):
        text = str(value).strip().lower()
        if text in ("auto", "none"):
            return text
        try:
            seconds = float(text)
        except ValueError:
            self.fail(f"expected auto, none or a number of seconds, got {value!r}", param, ctx)
        if not seconds >= 1.0:
            self.fail(f"{value} is not in the range x>=1", param, ctx)
        return seconds


class _SetupError(click.ClickException):
    """Nothing could be labelled (model or --resume file unusable): one ``Error:`` line, exit 2."""

    exit_code = 2


class _Counter:
    """``labelling 12/40 files`` on a terminal's stderr, redrawn in place when ``enabled``; per-file
    problems as lines of their own unless ``silent`` (--quiet)."""

    def __init__(self, total: int, enabled: bool, silent: bool = False) -> None:
        self.total, self.enabled, self.silent, self.shown = total, enabled, silent, False

    def update(self, done: int) -> None:
        if self.enabled:
            click.echo(f"\rlabelling {done}/{self.total} files", nl=False, err=True)
            self.shown = True

    def message(self, text: str) -> None:
        """One line on stderr, its control characters escaped (a file name may hold any)."""
        from kerasser.progress import printable

        if self.silent:
            return
        if self.shown:
            click.echo("\r\x1b[K", nl=False, err=True)
        click.echo(printable(text), err=True)

    def close(self) -> None:
        if self.shown:
            click.echo(err=True)
            self.shown = False


def _skip_model_check(ctx, param, skip):
    """--no-verify-model: for this command, load model files whatever their SHA-256."""
    if skip:
        from kerasser.serve.inference import unverified_models

        ctx.with_resource(unverified_models())


@click.command(cls=Brief, page="labelling.md",
               main=("model_dir", "fmt", "segment", "summary", "resume", "attention", "runner", "out_prefix",
                     "quiet"))
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--model", "model_dir", default=None, metavar="NAME|FOLDER",
    help="An installed model's name (kerasser models: emodb-avde, emodb-avde-ensemble, ...) or an exported "
         "model folder. [default: $KERASSER_MODEL, else emodb-avde]",
)
@click.option("--no-verify-model", is_flag=True, expose_value=False, callback=_skip_model_check,
              help="Load the model files even when their SHA-256 is not the one metadata.json records (models "
                   "edited on purpose; also KERASSER_VERIFY_MODEL=0). By default such a model is refused.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option(
    "--recursive/--no-recursive", default=True, show_default=True,
    help="Look for audio in subfolders of a folder argument too.",
)
@click.option(
    "--segment", type=_Segment(), default="auto", show_default=True,
    help=f"auto: a file longer than --segment-over gives a row per speech segment (voice activity detection; "
    "silence and non-speech get no row; segments over 3 s cut into 2 s pieces overlapping by 0.5 s). "
    f"SECONDS: every file in windows of SECONDS (a last one under 1 s joins the one before). none: one row per "
    f"file; files longer than {MAX_UNSEGMENTED_SECONDS:g} s are cut into {DEFAULT_SEGMENT_SECONDS:g} s windows.",
)
@click.option("--segment-over", type=click.FloatRange(min=0.0), default=SEGMENT_OVER_SECONDS, show_default=True,
              metavar="SECONDS", help="With --segment auto: files up to this long are one utterance, one row.")
@click.option("--summary", is_flag=True,
              help="After a segmented file's rows, one row for the whole file (start 0, end its duration): each "
                   "probability the mean of its rows' weighted by their length, the label the most probable class.")
@click.option("--raw-rate", type=click.IntRange(min=1), default=SAMPLE_RATE, show_default=True,
              help="PATH '-' (standard input) without a WAV header: its sample rate ...")
@click.option("--raw-channels", type=click.IntRange(min=1), default=1, show_default=True, help="... channels ...")
@click.option("--raw-format", type=click.Choice(tuple(SAMPLE_FORMATS)), default="s16le", show_default=True,
              help="... and sample format (little-endian).")
@click.option(
    "--resume", "resume", type=click.Path(dir_okay=False), default=None, metavar="OUT",
    help="Skip what the earlier output OUT (csv or jsonl, may end in a cut-off line) already has "
    "(files with an error row there are not retried); no header is written when OUT is in the same "
    "format, so: kerasser label DIR --resume out.csv >> out.csv",
)
@click.option("--backend", type=click.Choice(BACKENDS), default="tflite", show_default=True,
              help="tflite: the TFLite model through LiteRT (no TensorFlow import); keras: the Keras model.")
@click.option("--variant", type=click.Choice(VARIANTS), default="float32", show_default=True,
              help="TFLite model variant (tflite backend only; quantised ones exist when exported with --quantize).")
@click.option("--transcribe", is_flag=True,
              help="Add a text column: the greedy CTC transcript (models exported --with-transcript).")
@click.option("--attention", is_flag=True,
              help="Add an attention column: JSON with frame_seconds and each task's attention weight per frame.")
@click.option("--runner", type=click.Choice(["local", "beam"]), default="local", show_default=True,
              help="beam: PATHS are file patterns (local, gs://, s3://, ... folders mean all their audio), labelled by an "
                   "Apache Beam pipeline into sharded files --out PREFIX-SSSSS-of-NNNNN.csv|.jsonl (needs kerasser[beam]).")
@click.option("--out", "out_prefix", default=None, metavar="PREFIX", help="With --runner beam: the output prefix.")
@click.option("--beam-option", "beam_options", multiple=True, metavar="KEY=VALUE",
              help="With --runner beam: a Beam pipeline option, e.g. runner=DataflowRunner, project=P, "
                   "direct_num_workers=2 (repeatable; default: the DirectRunner on this machine).")
@click.option("--speakers", default=None, metavar="folder|TABLE.csv",
              help="For a model trained with --feature-norm speaker: 'folder': the files of one folder are one "
                   "speaker's; TABLE.csv: a CSV with path and speaker columns (a file it does not name is its own "
                   "speaker). Every file is read once first to make each speaker's reference. Without it each file "
                   "is its own speaker, which such a model labels far worse.")
@click.option("--transcripts", default=None, metavar="CSV",
              help="For a text model (--modality audio+text): a CSV of path and text columns, each file's transcript.")
@click.option("--csv-guard/--no-csv-guard", default=True, show_default=True,
              help="CSV: a cell that starts with =, +, -, @, a tab or a carriage return (a formula to a spreadsheet: "
                   "CSV injection) gets a leading ' (as does one starting with '); --resume reads it back as it was.")
@click.option("--quiet", "-q", is_flag=True, help="Nothing on stderr but an error that stops the run.")
@click.option("--verbose", "-v", is_flag=True,
              help="Also show what LiteRT and TensorFlow print while loading and running the model.")
@friendly_errors
def label(paths, model_dir, fmt, recursive, segment, segment_over, summary, raw_rate, raw_channels, raw_format, resume,
          backend, variant, transcribe, attention, runner, out_prefix, beam_options, speakers, transcripts, csv_guard, quiet,
          verbose):
    """Label audio files and folders with arousal, valence, dominance and emotion: one row per
    file (or per speech segment of a long recording) on stdout; '-' reads a stream from stdin.

    Exit status: 0 when every file was labelled; 1 when at least one file could not be (its row says
    why) or no audio was found; 2 when nothing could be labelled (an unusable model or --resume
    file); 130 when interrupted.

    \b
    Examples:
      kerasser label examples/ > out.csv
      kerasser label meeting.wav --summary > summary.csv
    """
    if backend == "keras" and variant != "float32":
        raise click.UsageError("--variant applies to the tflite backend only")
    if runner == "local" and (out_prefix is not None or beam_options):
        raise click.UsageError("--out and --beam-option go with --runner beam (local labelling writes to stdout)")
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose exclude each other")
    if "-" in paths:
        used = [name for name, value in {"other paths": len(paths) > 1, "--resume": resume, "--runner beam": runner == "beam",
                                         "--speakers": speakers, "--transcripts": transcripts,
                                         "--segment (a stream is cut at its speech pauses)": segment != "auto",
                                         "--segment-over": segment_over != SEGMENT_OVER_SECONDS}.items() if value]
        if used:
            raise click.UsageError(f"'-' (standard input) cannot be used with {', '.join(used)}")
    from kerasser.native_output import native_stderr_silenced

    explained = (click.ClickException, click.exceptions.Exit)  # they say what went wrong themselves
    try:
        with contextlib.nullcontext() if verbose else native_stderr_silenced(explained):
            if paths == ("-",):
                _label_stdin(model_dir, fmt, summary, (raw_rate, raw_channels, raw_format), backend, variant,
                             transcribe, attention, quiet, csv_guard)
            elif runner == "beam":
                _label_beam(paths, model_dir, fmt, recursive, segment, variant, out_prefix, beam_options, quiet,
                            verbose, unsupported={"--resume": resume, "--backend keras": backend == "keras",
                                                  "--transcribe": transcribe, "--attention": attention,
                                                  "--speakers": speakers, "--transcripts": transcripts,
                                                  "--no-csv-guard": not csv_guard,
                                                  "--summary": summary})
            else:
                _label(paths, model_dir, fmt, recursive, segment, resume, backend, variant, transcribe, attention, quiet,
                       speakers, csv_guard, segment_over, summary, transcripts)
    except KeyboardInterrupt:  # Ctrl-C: the rows written so far stay (resumable); 128 + SIGINT, no traceback
        sys.exit(130)


def _label_beam(paths, model_dir, fmt, recursive, segment, variant, out_prefix, beam_options, quiet, verbose, unsupported):
    from kerasser.progress import printable

    used = [name for name, value in unsupported.items() if value]
    if used:
        raise click.UsageError(f"{', '.join(used)} cannot be used with --runner beam")
    if not out_prefix:
        raise click.UsageError("--runner beam needs --out PREFIX")
    for option in beam_options:
        if "=" not in option:
            raise click.BadParameter(f"expected KEY=VALUE, got {option!r}", param_hint="--beam-option")
    import logging

    from kerasser.errors import KerasserError
    from kerasser.serve.beam_labeling import label_with_beam

    if not verbose:  # Beam logs through the root logger (warnings about cloud clients it did not find)
        logging.getLogger().setLevel(logging.ERROR)
    patterns = [os.path.join(p, "**" if recursive else "*") if os.path.isdir(p) else p for p in paths]
    try:
        summary = label_with_beam(patterns, out_prefix, model_dir=model_dir, fmt=fmt, variant=variant, segment=segment,
                                  pipeline_args=[f"--{o}" for o in beam_options])
    except KerasserError as err:
        raise _SetupError(printable(str(err))) from None
    if not summary["files"]:  # as `label` on a folder without audio: nothing to label is a failure
        click.echo(printable(f"no audio file found in {' '.join(paths)}: nothing written"), err=True)
        sys.exit(1)
    if not quiet:
        click.echo(f"labelled {summary['files']} files ({summary['error_rows']} error rows) into "
                   f"{len(summary['outputs'])} file(s) {out_prefix}-*", err=True)
    if summary["error_rows"]:
        sys.exit(1)


def _output_failed(err) -> None:
    """The output cannot be written: one line (none when the reader went away, as in ``| head``),
    exit 1. What was written stays, cut off at most mid-row: --resume finishes it."""
    import errno

    from kerasser.progress import printable

    if err.errno != errno.EPIPE:
        click.echo(f"Error: {printable(str(err))}", err=True)
    try:  # what Python still holds for stdout must not fail again (a second message) at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    except OSError:
        pass
    sys.exit(1)


def _load_labeler(model_dir, backend, variant, transcribe, attention):
    from kerasser.errors import KerasserError
    from kerasser.progress import printable
    from kerasser.serve.labeling import Labeler

    try:
        return Labeler.load(model_dir, backend=backend, variant=variant, transcribe=transcribe, attention=attention)
    except KerasserError as err:  # the model folder is unusable: one line, no traceback
        raise _SetupError(printable(str(err))) from None


def _label_stdin(model_dir, fmt, summary, raw, backend, variant, transcribe, attention, quiet, csv_guard):
    from kerasser.errors import KerasserError, OutputError
    from kerasser.progress import printable
    from kerasser.serve.live import RawFormat, label_stream
    from kerasser.serve.writers import columns, make_writer

    try:
        raw_format = RawFormat(*raw)
    except KerasserError as err:
        raise _SetupError(printable(str(err))) from None
    labeler = _load_labeler(model_dir, backend, variant, transcribe, attention)
    counter = _Counter(0, enabled=False, silent=quiet)
    out = sys.stdout
    if out is None:
        _output_failed(OutputError("Bad file descriptor (closed)", path="<stdout>"))
    try:
        writer = make_writer(fmt, out, columns(labeler.tasks, text=labeler.transcribe, attention=labeler.attention),
                             csv_guard=csv_guard)
        errors = label_stream(labeler, sys.stdin.fileno(), writer, raw=raw_format, summary=summary,
                              on_error=lambda where, reason: counter.message(f"{where}: {reason}"))
    except OutputError as err:
        _output_failed(err)
    except KerasserError as err:  # e.g. the voice activity detector cannot be loaded
        raise _SetupError(printable(str(err))) from None
    except (OSError, ValueError) as err:  # standard input closed or unreadable
        raise _SetupError(printable(f"cannot read standard input ({err})")) from None
    if errors:
        sys.exit(1)


def _label(paths, model_dir, fmt, recursive, segment, resume, backend, variant, transcribe, attention, quiet,
           speakers=None, csv_guard=True, segment_over=None, summary=False, transcripts=None):
    from kerasser.errors import KerasserError, OutputError
    from kerasser.progress import printable
    from kerasser.serve.label_resume import lock_outputs, read_previous
    from kerasser.serve.labeling_files import find_audio, folder_speaker, label_files, speaker_table
    from kerasser.serve.writers import columns, make_writer

    out = sys.stdout
    try:
        locks = lock_outputs(resume, out)  # noqa: F841  (held until the process ends)
    except OutputError as err:
        raise _SetupError(printable(str(err))) from None
    previous = None
    if resume is not None:
        try:
            previous = read_previous(resume, csv_guard=csv_guard)
        except KerasserError as err:
            raise _SetupError(printable(f"cannot resume from {err}")) from None
        except OSError as err:
            raise _SetupError(printable(f"cannot resume from {resume}: {err.strerror or err}")) from None
    labeler = _load_labeler(model_dir, backend, variant, transcribe, attention)
    if speakers and not labeler.needs_reference:
        raise _SetupError("--speakers is for models trained with --feature-norm speaker; this one normalises each "
                          "clip by itself")
    speaker_of = None
    if speakers == "folder":
        speaker_of = folder_speaker
    elif speakers:
        try:
            speaker_of = speaker_table(speakers)
        except KerasserError as err:
            raise _SetupError(printable(str(err))) from None
    text_of = None
    if transcripts:
        from kerasser.data.transcripts import transcript_table

        if not labeler.reads_text:
            raise _SetupError("--transcripts is for models trained with --modality audio+text or text; this one "
                              "reads the audio alone")
        try:
            text_of = transcript_table(transcripts)
        except KerasserError as err:
            raise _SetupError(printable(str(err))) from None
    if labeler.reads_text and not transcripts and not quiet:
        click.echo("note: this model reads transcripts; without --transcripts it takes its CTC head's where it has "
                   "one, else the audio alone", err=True)
    if labeler.needs_reference and not speakers and not quiet:
        click.echo("note: this model normalises by speaker; without --speakers each file is its own speaker, "
                   "which it labels far worse", err=True)

    cols = columns(labeler.tasks, text=labeler.transcribe, attention=labeler.attention)
    try:
        header = previous is None or previous.check_appendable(out, fmt, cols)
    except KerasserError as err:
        raise _SetupError(printable(f"cannot resume into {err}")) from None

    if out is None:  # descriptor 1 was closed before Python started
        _output_failed(OutputError("Bad file descriptor (closed)", path="<stdout>"))
    try:
        out.reconfigure(errors="surrogateescape")  # paths that are not valid UTF-8 go out as they came
    except (AttributeError, ValueError, OSError):
        pass
    sources = find_audio(paths, recursive=recursive,
                         on_skipped=None if quiet else lambda line: click.echo(printable(line), err=True))
    if not sources:  # folders without audio: nothing to label is a failure (as with --runner beam)
        click.echo(printable(f"no audio file found in {' '.join(paths)}: nothing written"), err=True)
        sys.exit(1)
    tty = sys.stderr is not None and sys.stderr.isatty()  # None: descriptor 2 closed before Python started
    counter = _Counter(len(sources), enabled=tty and not quiet, silent=quiet)
    try:
        if previous is not None:
            previous.trim_if_same_file(out)  # drop a cut-off last row before appending to it
        writer = make_writer(fmt, out, cols, header=header, csv_guard=csv_guard)
        summary = label_files(
            labeler, sources, writer, segment=segment, previous=previous,
            on_error=lambda path, reason: counter.message(f"{path}: {reason}"),
            on_progress=counter.update, speaker_of=speaker_of, segment_over=segment_over, summary=summary,
            text_of=text_of,
        )
    except OutputError as err:  # disk full, a closed or read-only stdout, a reader gone (`| head`)
        counter.close()
        _output_failed(err)
    finally:
        counter.close()
    if summary.failed:
        if not quiet:
            click.echo(f"{summary.failed} of {summary.files} files could not be labelled", err=True)
        sys.exit(1)

