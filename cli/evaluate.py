"""``kerasser evaluate``."""

from __future__ import annotations

import click
from kerasser_cli.main import friendly_errors
from kerasser_cli.options import corpus_options, corpus_pairs

from kerasser.data.corpora.utterance import SPLITS


@click.command()
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.option("--split", type=click.Choice(SPLITS), default="test", show_default=True)
@corpus_options
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(1))
@click.option("--confusion/--no-confusion", default=True, show_default=True, help="Also print confusion matrices.")
@click.option("--speaker-norm", is_flag=True,
              help="Centre each speaker's predictions on that speaker's mean over the scored clips first "
                   "(transductive: it uses the scored speakers' own audio, as speaker-normalised baselines do).")
@click.option("--references", type=click.Choice(("speaker", "clip")), default="speaker", show_default=True,
              help="For a model trained with --feature-norm speaker: each scored speaker's reference from all of "
                   "that speaker's scored clips (transductive), or each clip's own (no other clip used).")
@click.option("--without-text", is_flag=True, help="For a text model (--modality audio+text): score with no transcripts.")
@friendly_errors
def evaluate(run, split, corpus, data, batch_size, confusion, speaker_norm, references, without_text):
    """UAR per task, per-class recall and confusion matrices of RUN's best model; the full report
    goes to RUN/eval_<corpora>_<split>.json, a figure per task beside it.

    \b
    Examples:
      kerasser evaluate runs/emodb
      kerasser evaluate runs/emodb-s1 --speaker-norm
    """
    from kerasser.evaluate.run import evaluate_run
    from kerasser.metrics import format_confusions, format_table

    report = evaluate_run(run, split=split, corpora=corpus_pairs(corpus, data) or None, batch_size=batch_size,
                          speaker_norm=speaker_norm, references=references, text=not without_text)
    names = ", ".join(c[0] for c in report["corpora"])
    normalised = ", speaker-normalised" if speaker_norm else ""
    normalised += ", each clip its own reference" if report["references"] == "clip" else ""
    normalised += ", without transcripts" if without_text else ""
    click.echo(f"{names} {split}: {report['files']} files{normalised}")
    click.echo(format_table(report["tasks"]))
    if len(report["per_corpus"]) > 1 or "emotion" in report["tasks"]:
        from kerasser.evaluate.corpus_scores import format_corpus_reports

        click.echo("per corpus (emotion over its own classes):\n" + format_corpus_reports(report["per_corpus"]))
    if report.get("transcript") and report["transcript"]["cer"] is not None:
        t = report["transcript"]
        click.echo(f"transcript (CTC head, greedy): CER {t['cer']:.1f} % over {t['utterances']} utterances")
    if confusion:
        click.echo()
        click.echo(format_confusions(report["tasks"]))
