"""``kerasser train``."""

from __future__ import annotations

import click

from kerasser_cli.main import friendly_errors
from kerasser_cli.options import corpus_options, corpus_pairs


def _floats(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {text!r}", param_hint="--loss-weights")


@click.command()
@corpus_options
@click.option("--tasks", default="a,v,d", show_default=True, help="Tasks: a(rousal), v(alence), d(ominance), e(motion).")
@click.option("--attention/--no-attention", default=True, show_default=True, help="Attention pooling, or the last valid GRU step.")
@click.option("--out", required=True, type=click.Path(), help="Run folder to create (or to continue with --resume).")
@click.option("--loss-weights", default=None, help="Comma-separated w_m, one per task (default: all 1).")
@click.option("--epochs", default=None, type=click.IntRange(1), help="Maximum epochs [default: 60; with --resume: the run's own].")
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(1))
@click.option("--lr", default=1e-4, show_default=True, type=click.FloatRange(min=0, min_open=True), help="Adam learning rate.")
@click.option("--patience", default=15, show_default=True, type=click.IntRange(1), help="Early stopping: epochs without a better mean dev UAR.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds weights, dropout and shuffling.")
@click.option("--frontend", type=click.Choice(["shared", "framed"]), default="shared", show_default=True,
              help="shared: one convolution over the utterance (fast); framed: per-frame convolutions as in the paper.")
@click.option("--padding", type=click.Choice(["valid", "same"]), default=None,
              help="Convolution padding (framed only; default valid, the paper used same).")
@click.option("--l2", default=1e-4, show_default=True, type=click.FloatRange(min=0))
@click.option("--dropout", default=0.1, show_default=True, type=click.FloatRange(0, 1, max_open=True))
@click.option("--train-splits", default="train", show_default=True, help="Comma-separated splits to train on.")
@click.option("--dev-split", default="dev", show_default=True, type=click.Choice(["dev", "test", "train", "none"]),
              help="Split that picks the best epoch and stops early; none: train all epochs, keep the last.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last finished epoch.")
@friendly_errors
def train(corpus, data, tasks, attention, out, loss_weights, epochs, batch_size, lr, patience, seed,
          frontend, padding, l2, dropout, train_splits, dev_split, resume):
    """Train the multi-task emotion model and keep the epoch with the best mean dev UAR.

    \b
    Example:
      kerasser train --corpus emodb --data ../shared/data/emodb --tasks a,v,d --attention --out runs/emodb
    """
    from kerasser.config import ModelConfig, TrainConfig
    from kerasser.tasks import parse_tasks
    from kerasser.training import train as run_training

    if resume:
        run_training(TrainConfig(corpora=(), out=out), resume=True, epochs=epochs)
        return
    if not corpus:
        raise click.UsageError("give at least one --corpus/--data pair")
    if padding == "same" and frontend == "shared":
        raise click.UsageError("--padding same needs --frontend framed")
    model = ModelConfig(
        tasks=tuple(t.name for t in parse_tasks(tasks)),
        attention=attention,
        frontend=frontend,
        conv_padding=padding or "valid",
        l2=l2,
        dropout=dropout,
    )
    config = TrainConfig(
        corpora=corpus_pairs(corpus, data),
        out=out,
        model=model,
        loss_weights=_floats(loss_weights),
        epochs=epochs or 60,
        batch_size=batch_size,
        learning_rate=lr,
        patience=patience,
        seed=seed,
        train_splits=tuple(s.strip() for s in train_splits.split(",") if s.strip()),
        dev_split=None if dev_split == "none" else dev_split,
    )
    run_training(config)
