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
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Start from a saved configuration (a run's config.json, kerasser tune's best_config.json) "
                   "instead of --recipe; its corpora are used unless --corpus/--data are given.")
@click.option("--out", required=True, type=click.Path(), help="Run folder to create (or to continue with --resume).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last finished epoch (its own settings).")
@friendly_errors
def train(corpus, data, config_file, out, resume, **options):
    """Train the multi-task emotion model and keep the epoch with the best mean dev UAR.

    \b
    Examples:
      kerasser train --corpus emodb --data ../shared/data/emodb --tasks a,v,d,e --out runs/emodb
      kerasser train --recipe paper --corpus emodb --data ../shared/data/emodb --tasks a,v,d --attention --out runs/paper
      kerasser train --config runs/tune/best_config.json --out runs/tuned
    """
    from kerasser.config import load_train_config
    from kerasser.recipes import build_train_config
    from kerasser.training import resume as resume_training
    from kerasser.training import train as run_training

    base = load_train_config(config_file) if config_file else None
    corpora = corpus_pairs(corpus, data) or (base.corpora if base else ())
    if not resume and not corpora:
        raise click.UsageError("give at least one --corpus/--data pair (or a --config that names corpora)")
    # stdout is for data: anything a library prints while training goes to stderr
    with contextlib.redirect_stdout(sys.stderr):
        if resume:
            resume_training(out, epochs=options["epochs"])
        else:
            run_training(build_train_config(corpora=corpora, out=out, base=base, **recipe_overrides(options)))
