"""An exported model on every clip of corpora: what a user who labels that speech gets.

    python benchmarks/exported_on_corpora.py --model exported/emodb-avde --corpora ravdess,baved

Each clip is labelled through the export's TFLite model with LiteRT (``kerasser.serve.inference``, as
``kerasser label`` does, no TensorFlow), and scored per corpus (``kerasser.evaluate.corpus_scores``):
emotion over the corpus' own classes (the prediction the most probable of those the model has; a
class the model lacks, such as RAVDESS' calm for an EmoDB model, is always wrong), the 4-class
common UAR (anger, happiness, sadness, neutral), and each dimension the corpus labels. For a
corpus the model never heard, this is its cross-corpus accuracy; a corpus it trained on is scored
on all of its clips, training speakers included, so only unseen corpora mean anything here.
Output: a table on stdout and ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def score_corpus(model, corpus: str, root: Path) -> dict:
    """``kerasser.evaluate.corpus_scores.corpus_reports`` of ``model`` over every clip of ``corpus``."""
    from kerasser.data import audio
    from kerasser.data.corpora import read_corpus
    from kerasser.data.label_space import corpus_classes
    from kerasser.evaluate.corpus_scores import corpus_reports
    from kerasser.tasks import TASKS

    utterances = read_corpus(corpus, root)
    heads = dict(model.tasks)
    predictions = {t: {"paths": [], "labels": [], "probabilities": [], "classes": list(heads[t])}
                   for t in heads if t in TASKS}
    for i, u in enumerate(utterances):
        out = model.predict(audio.load(u.path, model.sample_rate))
        for task, kept in predictions.items():
            if task in u.labels:
                kept["paths"].append(u.path)
                kept["labels"].append(u.labels[task])
                kept["probabilities"].append(np.asarray(out[task], np.float64).reshape(-1).tolist())
        if (i + 1) % 200 == 0:
            print(f"{corpus}: {i + 1} of {len(utterances)} clips", file=sys.stderr)
    return corpus_reports(predictions, {u.path: corpus for u in utterances}, corpus_classes(utterances))[corpus]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="exported/emodb-avde")
    parser.add_argument("--corpora", default="ravdess,baved")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--variant", default="float32", choices=("float32", "int8"))
    parser.add_argument("--out", default="benchmarks/results/exported_on_corpora.md")
    args = parser.parse_args(argv)
    from kerasser.serve.inference import load_exported

    model = load_exported(Path(args.model), backend="tflite", variant=args.variant)
    rows = []
    for corpus in (c.strip() for c in args.corpora.split(",") if c.strip()):
        scores = score_corpus(model, corpus, Path(args.data) / corpus)
        cells = ", ".join(f"{'emotion (4-class common)' if k == 'emotion_common' else k} {v:.1f}"
                          for k, v in scores.items() if k != "files")
        rows.append(f"| {corpus} | {scores['files']} | {cells} |")
    text = "\n".join([
        f"`python benchmarks/exported_on_corpora.py --model {args.model} --corpora {args.corpora} "
        f"--variant {args.variant}`: every clip, UAR %; emotion over the corpus' own classes (those the model lacks always wrong).",
        "", "| corpus | clips | scores |", "|---|---|---|", *rows, ""])
    Path(args.out).write_text(f"# {Path(args.model).name} on whole corpora\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
