"""``kerasser``: the click group and error handling shared by every command."""

from __future__ import annotations

import functools
import os
import sys

import click

DEBUG_ENV = "KERASSER_DEBUG"


class InternalError(click.ClickException):
    """An exception kerasser did not expect (a bug, here or in a library): one line that says
    how to see its traceback; exit code 70 (EX_SOFTWARE)."""

    exit_code = 70


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


EXIT_STATUS = """\b
Exit status: 0 done; 1 an error, said in one 'Error:' line (bad data, run or
model folder, settings; a missing extra; label: a file that could not be
labelled, or no audio found); 2 bad usage (an unknown option or value; label: a
model or --resume file it cannot use); 70 an internal error (a bug: rerun with
--debug for its traceback); 130 interrupted (Ctrl-C)."""


def friendly_errors(fn):
    """Turn the library's expected errors (``kerasser.errors.KerasserError``: bad data, bad run
    or model folder, bad settings) into one ``Error: path: reason`` line and exit code 1, never a
    traceback. click's own errors pass through. A missing module of the ``train`` extra says
    which extra to install. Ctrl-C is exit 130 without a traceback. Anything else is an internal
    error: one line saying so, or the full traceback with ``--debug`` / ``KERASSER_DEBUG=1``.

    What native libraries (TensorFlow, absl, CUDA probing, LiteRT) print on descriptor 2 is held
    back (:func:`kerasser.native_output.native_stderr_silenced`: replayed if the command crashes)
    unless ``--debug`` or the command's own ``--verbose``; TensorFlow's and absl's Python loggers
    show errors only."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from kerasser.errors import KerasserError

        explained = (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt, SystemExit)
        try:
            if debugging() or kwargs.get("verbose"):
                return fn(*args, **kwargs)
            from kerasser.native_output import native_stderr_silenced, quiet_python_logs

            quiet_python_logs()
            with native_stderr_silenced(explained):
                return fn(*args, **kwargs)
        except KerasserError as error:  # control characters of names escaped (kerasser.progress.printable)
            from kerasser.progress import printable

            raise click.ClickException(printable(str(error))) from None
        except KeyboardInterrupt:  # 128 + SIGINT, as label has always done; no traceback
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as error:
            if debugging():
                raise
            from kerasser.extras import missing_extra

            extra = missing_extra(error) if isinstance(error, ModuleNotFoundError) else None
            if extra is not None:
                command = click.get_current_context().command_path
                raise click.ClickException(
                    f"{command} needs {error.name.split('.')[0]}, which this install lacks: "
                    f"pip install 'kerasser[{extra}]' (the base install labels with LiteRT only)"
                ) from None
            detail = " ".join(str(error).split())[:300]
            raise InternalError(
                f"internal error ({type(error).__name__}: {detail}); rerun with kerasser --debug "
                f"(or {DEBUG_ENV}=1) for the traceback, and please report it"
            ) from None

    return wrapper


def _debug(ctx, param, value):
    if value:
        os.environ[DEBUG_ENV] = "1"  # seen by friendly_errors, and by worker processes
    return value


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(None, "-V", "--version", package_name="kerasser")
@click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_debug,
              help=f"Show the full traceback of an unexpected error (also {DEBUG_ENV}=1).")
def cli():
    """Speech emotion recognition from the raw waveform: label audio with arousal, valence,
    dominance and emotion; train, evaluate, export and explain models.

    \b
    Example:
      kerasser label examples/ > out.csv
    """


cli.help += "\n\n" + EXIT_STATUS


def _register():
    from kerasser_cli import (
        compare,
        crossval,
        ensemble,
        evaluate,
        explain,
        export,
        label,
        models,
        prepare,
        train,
        tune,
    )

    commands = (prepare.prepare, train.train, tune.tune, crossval.crossval, evaluate.evaluate, compare.compare, ensemble.ensemble,
                export.export, label.label, explain.explain, models.models)
    for command in commands:
        cli.add_command(command)


_register()
