"""``kerasser ensemble``."""

from __future__ import annotations

import click
from kerasser_cli.main import friendly_errors


@click.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(), help="Run folder to create for the ensemble.")
@friendly_errors
def ensemble(runs, out):
    """Average several runs' best models (e.g. seeds of one recipe) into one run folder, which
    evaluates and exports as one model; inference costs the members' time added up.

    \b
    Example:
      kerasser ensemble runs/emodb runs/emodb-s1 --out runs/ensemble
    """
    from kerasser.training.ensemble import make_ensemble_run

    if len(runs) < 2:
        raise click.UsageError("give at least two runs")
    click.echo(f"ensemble of {len(runs)} runs: {make_ensemble_run(runs, out)}", err=True)
