"""Options shared by several commands."""

from __future__ import annotations

import click

from kerasser.data.corpora import READERS


def corpus_options(fn):
    """``--corpus NAME --data PATH``, repeatable in pairs."""
    fn = click.option(
        "--data",
        "data",
        multiple=True,
        type=click.Path(),
        help="Corpus folder (or CSV for --corpus manifest); one per --corpus, in the same order.",
    )(fn)
    fn = click.option(
        "--corpus",
        "corpus",
        multiple=True,
        type=click.Choice(list(READERS)),
        help="Corpus reader; repeat --corpus/--data pairs to use several corpora together.",
    )(fn)
    return fn


def corpus_pairs(corpus: tuple[str, ...], data: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    if len(corpus) != len(data):
        raise click.UsageError(f"{len(corpus)} --corpus but {len(data)} --data: give them in pairs")
    return tuple(zip(corpus, data))
