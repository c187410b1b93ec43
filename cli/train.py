"""``kerasser train``."""

from __future__ import annotations

import contextlib
import sys

import click
from kerasser_cli.brief import Brief
from kerasser_cli.main import friendly_errors
from kerasser_cli.options import corpus_pairs
from kerasser_cli.train_options import recipe_options, recipe_overrides, train_only_options


@click.command(cls=Brief, page="training-options.md",
               main=("corpus", "data", "recipe", "tasks", "config_file", "out", "resume", "epochs", "seed",
                     "init_from", "freeze"))
@recipe_options
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Start from a saved configuration (a run's config.json, kerasser tune's best_config.json) "
                   "instead of --recipe; its corpora are used unless --corpus/--data are given.")
@click.option("--out", required=True, type=click.Path(), help="Run folder to create (or to continue with --resume).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last finished epoch (its own settings).")
@click.option("--distill-from", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="A trained run to learn from (repeat for several, e.g. seeds): their mean predictions on each "
                   "training utterance become part of its targets. They must not have seen the dev or test speakers.")
@train_only_options
@friendly_errors
def train(corpus, data, config_file, out, resume, distill_from, **options):
    """Train the multi-task emotion model; the epoch with the best mean dev UAR is kept.

    \b
    Examples:
      kerasser train --corpus emodb --data ../shared/data/emodb --tasks a,v,d,e --out runs/emodb
      kerasser train --out runs/emodb-s1 --resume --epochs 80
    """
    from kerasser.config import load_train_config
    from kerasser.training.recipes import build_train_config

    base = load_train_config(config_file) if config_file else None
    corpora = corpus_pairs(corpus, data) or (base.corpora if base else ())
    if not resume and not corpora:
        raise click.UsageError("give at least one --corpus/--data pair (or a --config that names corpora)")
    config = None
    if not resume:  # every setting checked before TensorFlow is imported (seconds)
        overrides = recipe_overrides(options)
        overrides["distill_from"] = distill_from or None
        config = build_train_config(corpora=corpora, out=out, base=base,
                                    note=lambda line: click.echo(f"note: {line}", err=True), **overrides)
    from kerasser.training.loop import resume as resume_training
    from kerasser.training.loop import train as run_training

    # stdout is for data: anything a library prints while training goes to stderr
    with contextlib.redirect_stdout(sys.stderr):
        if resume:
            resume_training(out, epochs=options["epochs"])
        else:
            run_training(config)
