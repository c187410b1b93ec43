"""``kerasser crossval``."""

from __future__ import annotations

import contextlib
import sys

import click
from kerasser_cli.brief import Brief
from kerasser_cli.main import friendly_errors
from kerasser_cli.options import corpus_pairs
from kerasser_cli.train_options import recipe_options, recipe_overrides

from kerasser.data.folds import FOLD_KINDS


def _folds(ctx, param, value: str):
    if value in FOLD_KINDS:
        return value
    try:
        k = int(value)
    except ValueError:
        raise click.BadParameter(f"expected {', '.join(FOLD_KINDS)} or a number of folds") from None
    if k < 2:
        raise click.BadParameter("needs at least 2 folds")
    return k


@click.command(cls=Brief, page="evaluation.md",
               main=("corpus", "data", "recipe", "tasks", "folds", "dev_speakers", "out", "epochs", "seed"))
@recipe_options
@click.option("--folds", default="loso", show_default=True, callback=_folds,
              help="loso: one fold per speaker; K: K speaker-grouped folds; protocol: PROTOCOL.md's folds of the "
                   "corpus (RAVDESS: 6 groups of 4 actors); corpus: leave one corpus out (each corpus held out "
                   "in turn; the others' own train and dev splits train and pick the epoch).")
@click.option("--dev-speakers", default=2, show_default=True, type=click.IntRange(0),
              help="Dev speakers per fold, drawn (seeded) from its training speakers.")
@click.option("--out", required=True, type=click.Path(), help="Folder for the fold runs and crossval.json (rerun to continue).")
@friendly_errors
def crossval(corpus, data, folds, dev_speakers, out, **options):
    """Speaker-independent cross-validation with the options of train: one run per fold under
    OUT/fold-<name>; per-fold, mean and pooled UAR per task; OUT/crossval.json.

    \b
    Example:
      kerasser crossval --corpus emodb --data ../shared/data/emodb --tasks a,v,d,e --folds loso --out runs/loso
    """
    from kerasser.evaluate.crossval import crossval as run_crossval
    from kerasser.evaluate.crossval import format_summary
    from kerasser.training.recipes import build_train_config

    if not corpus:
        raise click.UsageError("give at least one --corpus/--data pair")
    overrides = recipe_overrides(options)
    overrides.pop("train_splits"), overrides.pop("dev_split")
    config = build_train_config(corpora=corpus_pairs(corpus, data), out=out, **overrides)
    with contextlib.redirect_stdout(sys.stderr):  # stdout is for the summary
        summary = run_crossval(config, folds=folds, dev_speakers=dev_speakers)
    click.echo(format_summary(summary))
