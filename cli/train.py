"""``kerasser train``."""

from __future__ import annotations

import contextlib
import sys

import click

from kerasser_cli.main import friendly_errors
from kerasser_cli.options import corpus_pairs
from kerasser_cli.train_options import recipe_options, recipe_overrides


@click.command()
@recipe_options
@click.option("--out", required=True, type=click.Path(), help="Run folder to create (or to continue with --resume).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last finished epoch (its own settings).")
@friendly_errors
def train(corpus, data, out, resume, **options):
    """Train the multi-task emotion model and keep the epoch with the best mean dev UAR.

    \b
    Examples:
      kerasser train --corpus emodb --data ../shared/data/emodb --tasks a,v,d,e --out runs/emodb
      kerasser train --recipe paper --corpus emodb --data ../shared/data/emodb --tasks a,v,d --attention --out runs/paper
    """
    from kerasser.recipes import build_train_config
    from kerasser.training import resume as resume_training
    from kerasser.training import train as run_training

    if not resume and not corpus:
        raise click.UsageError("give at least one --corpus/--data pair")
    # stdout is for data: anything a library prints while training goes to stderr
    with contextlib.redirect_stdout(sys.stderr):
        if resume:
            resume_training(out, epochs=options["epochs"])
        else:
            run_training(build_train_config(corpora=corpus_pairs(corpus, data), out=out, **recipe_overrides(options)))
