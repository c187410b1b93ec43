"""``kerasser export``."""

from __future__ import annotations

import click
from kerasser_cli.main import friendly_errors
from kerasser_cli.options import corpus_options, corpus_pairs

from kerasser.contract import QUANTIZATIONS


@click.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option("--out", required=True, type=click.Path(),
              help="Export folder to write, e.g. exported/NAME (an existing export there is replaced).")
@click.option("--quantize", multiple=True, type=click.Choice(QUANTIZATIONS),
              help="Also write model_<kind>.tflite; repeatable.")
@click.option("--name", default=None, help="Model name in metadata.json [default: the --out folder's name].")
@corpus_options
@click.option("--with-transcript", is_flag=True,
              help="Also serve the CTC head's per-step characters as a 'transcript' output (runs trained "
                   "with --ctc-weight); `kerasser label --transcribe` decodes it.")
@click.option("--held-out", "held_out", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="crossval.json of a `kerasser crossval --folds corpus` run of this model's recipe (repeatable, "
                   "e.g. one per seed): its leave-one-corpus-out figures go into metadata.json and the model card.")
@friendly_errors
def export(run, out, quantize, name, corpus, data, with_transcript, held_out):
    """Export RUN's best model: model.keras, saved_model/, model.tflite (+ --quantize variants),
    metadata.json and MODEL_CARD.md, each format checked against the Keras model on real clips.

    \b
    Example:
      kerasser export runs/emodb --out exported/my-model --quantize int8
    """
    from kerasser.export.exporter import export_run

    result = export_run(run, out, quantize=quantize, name=name, other_corpora=corpus_pairs(corpus, data),
                        with_transcript=with_transcript, held_out=held_out)
    md = result.metadata
    click.echo(f"{md['name']}: {result.path}")
    for entry in md["files"].values():
        if entry.get("bytes") is not None:
            click.echo(f"  {entry['path']:<22} {entry['bytes'] / 1e6:8.2f} MB")
    parity = md["parity"]
    count = parity["clips"]["count"]
    click.echo(f"parity on {count} clips (max |probability difference| vs Keras, argmax agreement):")
    for key in ("saved_model", "float32", *quantize):
        p = parity[key]
        line = f"  {key:<12} {p['max_abs_diff']:.2e}  {100 * p['argmax_agreement']:5.1f} %"
        if p.get("test_uar_change"):
            line += "  test UAR change " + ", ".join(f"{t} {d:+.1f}" for t, d in p["test_uar_change"].items())
        click.echo(line)
    if md["test"]:
        uars = ", ".join(f"{t} {u:.1f}" for t, u in md["test"]["uar"].items())
        click.echo(f"test UAR (Keras): {uars}")
    for other in md.get("other_corpora") or []:
        uars = ", ".join(f"{t} {u:.1f}" for t, u in other["uar"].items())
        click.echo(f"{other['corpus']} test UAR (Keras, not trained on): {uars}")
