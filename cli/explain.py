"""``kerasser explain``."""

from __future__ import annotations

import os
import sys

import click
from kerasser_cli.main import friendly_errors

from kerasser.evaluate.saliency import DEFAULT_SMOOTH_NOISE
from kerasser.serve.inference import BACKENDS


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--model", "model_dir", default=None, metavar="NAME|FOLDER",
              help="An installed model's name (kerasser models) or an export folder. [default: emodb-avde]")
@click.option("--out", required=True, type=click.Path(),
              help="A .png file for one audio file; otherwise a folder that gets <name>.png per audio file "
                   "(<folder>_<name>.png where names clash).")
@click.option("--backend", type=click.Choice(BACKENDS), default="tflite", show_default=True,
              help="tflite: the TFLite model through LiteRT; keras: the Keras model.")
@click.option("--saliency", is_flag=True,
              help="Add a saliency row per task: |gradient| of the predicted class's logit with respect to each "
                   "waveform sample (tf-keras-vis Saliency on the export's Keras model; needs kerasser[train]).")
@click.option("--smooth", "smooth_samples", type=click.IntRange(min=0), default=0, show_default=True,
              help="With --saliency: SmoothGrad over this many noisy copies of the input (0: vanilla gradient).")
@click.option("--smooth-noise", type=click.FloatRange(min=0, min_open=True), default=DEFAULT_SMOOTH_NOISE,
              show_default=True, help="With --smooth: the noise's standard deviation as a fraction of the waveform's "
                                      "range (tf-keras-vis' image default, 0.2, buries speech).")
@friendly_errors
def explain(paths, model_dir, out, backend, saliency, smooth_samples, smooth_noise):
    """Draw where the model listens: for each audio file, the waveform, its spectrogram and one row
    per task with the attention weights over time, titled with the predicted class.

    \b
    Examples:
      kerasser explain examples/16a04Fa.wav --out happy.png
      kerasser explain examples/ --out figures/
      kerasser explain examples/16a01Wb.wav --saliency --out saliency.png
    """
    from kerasser.data.input_files import find_audio
    from kerasser.errors import KerasserError
    from kerasser.evaluate.explain import explain_figure, figure_names
    from kerasser.serve.labeling import Labeler
    from kerasser.training.runs import make_folder

    sources = find_audio(paths, on_skipped=lambda line: click.echo(line, err=True))
    names = figure_names([source.path for source in sources])
    single = len(sources) == 1 and out.lower().endswith(".png")
    if not single:
        make_folder(out)
    labeler = Labeler.load(model_dir, backend=backend, attention=True)
    explainer = None
    if saliency:
        from kerasser.evaluate.saliency import WaveformSaliency
        from kerasser.serve.model_names import resolve_model

        explainer = WaveformSaliency.from_export(
            resolve_model(model_dir), smooth_samples=smooth_samples, smooth_noise=smooth_noise
        )
    failed = 0
    for source, name in zip(sources, names):
        target = out if single else os.path.join(out, name)
        try:
            if source.error:
                raise KerasserError(source.error, path=source.path)
            explain_figure(labeler, source.path, target, saliency=explainer)
            click.echo(target)
        except KerasserError as err:
            failed += 1
            click.echo(str(err), err=True)
    if failed:
        click.echo(f"{failed} of {len(sources)} files could not be drawn", err=True)
        sys.exit(1)
