"""``kerasser``: the click group and error handling shared by every command."""

from __future__ import annotations

import functools
import os

import click

# TensorFlow's C++ start-up chatter is not for users; set before any command imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def friendly_errors(fn):
    """Turn the library's expected errors (bad data, bad run folder, bad options) into one
    ``Error: ...`` line and exit code 1, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from kerasser.audio import AudioError
        from kerasser.corpora import CorpusError
        from kerasser.runs import RunError

        try:
            return fn(*args, **kwargs)
        except (AudioError, CorpusError, RunError, ValueError, FileNotFoundError) as error:
            raise click.ClickException(str(error).splitlines()[0] if str(error) else repr(error))

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kerasser")
def cli():
    """Speech emotion recognition from raw waveforms (attention-augmented multi-task GRUs)."""


def _register():
    from kerasser_cli import crossval, ensemble, evaluate, export, label, train

    for command in (train.train, crossval.crossval, evaluate.evaluate, ensemble.ensemble, export.export, label.label):
        cli.add_command(command)


_register()
