"""``kerasser``: the click group and error handling shared by every command."""

from __future__ import annotations

import functools
import os

import click

# TensorFlow's C++ start-up chatter is not for users; set before any command imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


DEBUG_ENV = "KERASSER_DEBUG"


class InternalError(click.ClickException):
    """An exception kerasser did not expect (a bug, here or in a library): one line that says
    how to see its traceback; exit code 70 (EX_SOFTWARE)."""

    exit_code = 70


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


# Top-level modules of the optional ``train`` extra (setup.cfg): a base install (labelling with
# LiteRT) lacks them, and a command that needs one says which extra to install.
TRAIN_EXTRA_MODULES = frozenset({"tensorflow", "keras", "sklearn", "scipy", "keras_tuner", "matplotlib", "tf_keras_vis"})


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """The extra that provides the module ``error`` says is missing, or None if no extra does."""
    return "train" if (error.name or "").split(".")[0] in TRAIN_EXTRA_MODULES else None


def friendly_errors(fn):
    """Turn the library's expected errors (``kerasser.errors.KerasserError``: bad data, bad run
    or model folder, bad settings) into one ``Error: path: reason`` line and exit code 1, never a
    traceback. click's own errors pass through. A missing module of the ``train`` extra says
    which extra to install. Anything else is an internal error: one line saying so, or the full traceback with ``--debug`` / ``KERASSER_DEBUG=1``."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from kerasser.errors import KerasserError

        try:
            return fn(*args, **kwargs)
        except KerasserError as error:  # control characters of names escaped (kerasser.progress.printable)
            from kerasser.progress import printable

            raise click.ClickException(printable(str(error)))
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt, SystemExit):
            raise
        except Exception as error:
            if debugging():
                raise
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
@click.version_option(package_name="kerasser")
@click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_debug,
              help=f"Show the full traceback of an unexpected error (also {DEBUG_ENV}=1).")
def cli():
    """Speech emotion recognition from raw waveforms (attention-augmented multi-task GRUs)."""


def _register():
    from kerasser_cli import (compare, crossval, ensemble, evaluate, explain, export, label, models, prepare, train,
                              tune)

    commands = (prepare.prepare, train.train, tune.tune, crossval.crossval, evaluate.evaluate, compare.compare, ensemble.ensemble,
                export.export, label.label, explain.explain, models.models)
    for command in commands:
        cli.add_command(command)


_register()
