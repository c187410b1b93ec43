"""``kerasser tune``."""

from __future__ import annotations

import contextlib
import sys

import click
from kerasser_cli.brief import Brief
from kerasser_cli.main import friendly_errors
from kerasser_cli.options import corpus_pairs
from kerasser_cli.train_options import recipe_options, recipe_overrides


@click.command(cls=Brief, page="training.md",
               main=("corpus", "data", "recipe", "tasks", "trials", "out", "epochs", "seed"))
@recipe_options
@click.option("--trials", default=10, show_default=True, type=click.IntRange(1), help="Random-search trials.")
@click.option("--out", required=True, type=click.Path(), help="Folder for the trial runs and results (rerun to continue).")
@friendly_errors
def tune(corpus, data, trials, out, **options):
    """Search the loss weights w_m on dev (keras-tuner RandomSearch, one short training per trial);
    writes OUT/best_config.json for kerasser train --config.

    \b
    Example:
      kerasser tune --corpus emodb --data ../shared/data/emodb --tasks a,v,d,e --epochs 15 --trials 12 --out runs/tune
    """
    from kerasser.training.recipes import build_train_config
    from kerasser.training.tuning import format_results, tune_loss_weights

    if not corpus:
        raise click.UsageError("give at least one --corpus/--data pair")
    config = build_train_config(corpora=corpus_pairs(corpus, data), out=out, **recipe_overrides(options))
    with contextlib.redirect_stdout(sys.stderr):  # stdout is for the results table
        document = tune_loss_weights(config, trials)
    click.echo(format_results(document))
