"""``kerasser explain``."""

from __future__ import annotations

import os
import sys

import click

from kerasser.inference import BACKENDS
from kerasser_cli.main import friendly_errors


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--model", "model_dir", type=click.Path(file_okay=False), default=None,
              help="Export folder (default: the shipped model).")
@click.option("--out", required=True, type=click.Path(),
              help="A .png file for one audio file; otherwise a folder that gets <name>.png per audio file.")
@click.option("--backend", type=click.Choice(BACKENDS), default="tflite", show_default=True,
              help="tflite: the TFLite model through LiteRT; keras: the Keras model.")
@friendly_errors
def explain(paths, model_dir, out, backend):
    """Draw where the model listens: for each audio file, the waveform, its spectrogram and one row
    per task with the attention weights over time (seconds), titled with the predicted class and
    its probability.

    \b
    Examples:
      kerasser explain examples/16a01Wb.wav --out anger.png
      kerasser explain examples/ --out figures/
    """
    from kerasser.errors import KerasserError
    from kerasser.explain import explain_figure
    from kerasser.labeling import Labeler
    from kerasser.labeling_files import find_audio
    from kerasser.runs import make_folder

    sources = find_audio(paths)
    single = len(sources) == 1 and out.lower().endswith(".png")
    if not single:
        make_folder(out)
    labeler = Labeler.load(model_dir, backend=backend, attention=True)
    failed = 0
    for source in sources:
        target = out if single else os.path.join(out, os.path.splitext(os.path.basename(source.path))[0] + ".png")
        try:
            if source.error:
                raise KerasserError(source.error, path=source.path)
            explain_figure(labeler, source.path, target)
            click.echo(target)
        except KerasserError as err:
            failed += 1
            click.echo(str(err), err=True)
    if failed:
        click.echo(f"{failed} of {len(sources)} files could not be drawn", err=True)
        sys.exit(1)
