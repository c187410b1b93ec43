"""``kerasser compare``."""

from __future__ import annotations

import json

import click
from kerasser_cli.main import friendly_errors
from kerasser_cli.options import corpus_options, corpus_pairs

from kerasser.data.corpora.utterance import SPLITS


@click.command()
@click.argument("run_a", type=click.Path(exists=True, file_okay=False))
@click.argument("run_b", type=click.Path(exists=True, file_okay=False))
@click.option("--split", type=click.Choice(SPLITS), default="test", show_default=True)
@corpus_options
@click.option("--resamples", default=2000, show_default=True, type=click.IntRange(100), help="Bootstrap resamples.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds the bootstrap.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@friendly_errors
def compare(run_a, run_b, split, corpus, data, resamples, seed, as_json):
    """Is RUN_A's UAR higher than RUN_B's? Per task, on the same utterances: Zhang et al.'s one-tailed
    two-proportion z-test, and a paired bootstrap 95 % interval of UAR_A - UAR_B.

    \b
    Example:
      kerasser compare runs/emodb runs/emodb-s1
    """
    from kerasser.evaluate.significance import compare_runs, format_comparison

    result = compare_runs(run_a, run_b, split, corpus_pairs(corpus, data) or None, resamples=resamples, seed=seed)
    click.echo(json.dumps(result, indent=2) if as_json else format_comparison(result))
