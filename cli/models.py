"""``kerasser models``: argument parsing only; the facts come from kerasser.serve.model_names."""

from __future__ import annotations

import json

import click
from kerasser_cli.main import friendly_errors


def _size(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


def _uar(model: dict) -> str:
    scores = model.get("test_uar") or {}
    if not scores:
        return "-"
    parts = " ".join(f"{task[0]} {value:.1f}" for task, value in scores.items())
    mean = model.get("test_mean_uar")
    return f"{mean:.1f} ({parts})" if mean is not None else parts


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per model, one per line (with each folder).")
@friendly_errors
def models(as_json):
    """List the installed models (the names --model, kerasser.Labeler(model=...) and --init-from
    take): tasks, training corpora, the terms the weights come under, size and test UAR (%).

    \b
    Example:
      kerasser models
    """
    from kerasser.serve.model_names import list_models

    found = list_models()
    if as_json:
        for model in found:
            click.echo(json.dumps(model))
        return
    header = ("name", "tasks", "corpora", "licence", "size", "test UAR %")
    rows = [header]
    for m in found:
        if "error" in m:
            rows.append((m["name"], "-", "-", m["error"], "-", "-"))
            continue
        rows.append((m["name"], ",".join(t[0] for t in m["tasks"]), ",".join(m["corpora"]) or "-", m["licence"],
                     _size(m["bytes"]), _uar(m)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
