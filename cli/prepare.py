"""``kerasser prepare``."""

from __future__ import annotations

import click
from kerasser_cli.main import friendly_errors
from kerasser_cli.options import corpus_options, corpus_pairs

from kerasser.config import SAMPLE_RATE
from kerasser.data.records import SHARD_MB


@click.command()
@corpus_options
@click.option("--out", required=True, type=click.Path(), help="The folder to write (new, empty, or prepared before).")
@click.option("--sample-rate", default=SAMPLE_RATE, show_default=True, type=click.IntRange(min=1000),
              help="Resample to this rate (the model's: ModelConfig.audio.sample_rate).")
@click.option("--shard-mb", default=SHARD_MB, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Start a new shard after this many MB of records.")
@click.option("--jobs", default=0, show_default=True, type=click.IntRange(min=0),
              help="Decoding threads (0: one per core).")
@click.option("--allow-duplicates", is_flag=True,
              help="Let a manifest list one audio file more than once (by default an error naming both lines: in "
                   "two splits it leaks test data into training).")
@friendly_errors
def prepare(corpus, data, out, sample_rate, shard_mb, jobs, allow_duplicates):
    """Decode and resample a corpus once into sharded TFRecords with an index.json, which train,
    evaluate and crossval read as --corpus tfrecord --data OUT.

    \b
    Example:
      kerasser prepare --corpus emodb --data ../shared/data/emodb --out prepared/emodb
    """
    from kerasser.data.corpora import read_corpora
    from kerasser.data.records import prepare as prepare_records

    pairs = corpus_pairs(corpus, data)
    if not pairs:
        raise click.UsageError("give at least one --corpus/--data pair")
    if any(name == "tfrecord" for name, _ in pairs):
        raise click.UsageError("--corpus tfrecord is prepared already")
    utterances = read_corpora(pairs, allow_duplicates=allow_duplicates)
    prepare_records(utterances, out, sample_rate, shard_mb, corpora=pairs, jobs=jobs,
                    write=lambda line: click.echo(line, err=True))
