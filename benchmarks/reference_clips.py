"""How many clips of a speaker a speaker-normalising model needs: test UAR against the number of
clips each reference is made from.

    python benchmarks/reference_clips.py --run RUN [--run RUN ...] [--clips 1,2,4,8,16,all]
        [--draws 5] [--corpus baved --data ../shared/data/baved]

RUN: runs trained with ``--feature-norm speaker`` (``accuracy.py``'s ``v5+speaker-gain``
configuration). Each scored clip's reference (``kerasser.model.speaker_reference``) is the mean log mel
over ``k`` clips of its speaker drawn from the scored split, the clip itself among them
(``drawn_means``): what a speaker with ``k`` clips gets. ``k = 1`` is
``kerasser evaluate --references clip``; ``all`` is every clip of the speaker, as
``kerasser evaluate`` scores. Per ``k`` the UAR per task is averaged over ``--draws`` seeded
draws per run, then given as mean ± sd over the runs; with ``--pooled`` (the folds of a
leave-one-speaker-out run, each with its own test speaker) each draw's predictions are pooled over
the runs before scoring, as ``kerasser crossval``'s pooled UAR, and the UAR is the mean over the
draws. Scores the runs' own test split (their corpora and speaker splits) unless
``--corpus``/``--data`` name another corpus.

    python benchmarks/reference_clips.py --pooled $(for f in runs/accuracy/v5+speaker-gain/loso/seed0/fold-*; do echo --run $f; done)
"""

from __future__ import annotations

import argparse

import numpy as np


def run_curve(run: str, clip_counts: list[int | None], draws: int, corpora) -> dict:
    """``{k: [{task: (labels, predicted classes)} per draw]}`` for one run (``k`` None: every clip)."""
    from kerasser.data import dataset as data
    from kerasser.data.corpora import read_corpora, select, speaker_key
    from kerasser.data.examples import DecodeLog, ExampleSettings
    from kerasser.metrics import predict
    from kerasser.model.speaker_reference import (
        clip_statistics,
        drawn_means,
        uses_reference,
        with_given_references,
    )
    from kerasser.training.runs import load_best_model, load_config

    config = load_config(run)
    own = corpora is None
    utterances = read_corpora(corpora or config.corpora, config.speaker_splits if own else None)
    tasks = tuple(t for t in config.model.tasks if any(t in u.labels for u in utterances))
    chosen = select(utterances, "test", tasks)
    model = load_best_model(run)
    if not uses_reference(model):
        raise SystemExit(f"{run}: not a speaker-normalising model (train it with --feature-norm speaker)")
    log = DecodeLog()
    examples = data.decoded(chosen, ExampleSettings(tasks, config.model.audio.sample_rate), log)
    sums, counts = clip_statistics(model, examples)
    speakers = [speaker_key(u) for u in chosen if u.path not in log.failed]
    curve = {}
    for k in clip_counts:
        per_draw = []
        for draw in range(1 if k is None else draws):
            rng = np.random.default_rng([draw, k or 0])
            references = drawn_means(speakers, sums, counts, k or len(speakers), rng)
            ds = data.batched(with_given_references(examples, references), 16, training=False)
            labels, probs, weights = predict(model, ds, tasks)
            keep = {t: weights[t] > 0 for t in tasks}
            per_draw.append({t: (labels[t][keep[t]], np.argmax(probs[t], -1)[keep[t]]) for t in tasks if keep[t].any()})
        curve[k] = per_draw
    sizes = np.unique(speakers, return_counts=True)[1]
    print(f"{run}: {len(speakers)} clips of {len(sizes)} speakers ({sizes.min()} to {sizes.max()} each)", flush=True)
    return curve


def uar_of(draws: list[dict]) -> dict[str, float]:
    """Mean UAR per task over draws of ``{task: (labels, predicted)}``."""
    from kerasser.metrics import uar

    return {t: float(np.mean([uar(*d[t]) for d in draws])) for t in draws[0]}


def pooled(curves: list[dict], k) -> list[dict]:
    """Per draw, the runs' predictions for ``k`` concatenated."""
    draws = len(curves[0][k])
    return [{t: tuple(np.concatenate([c[k][d][t][i] for c in curves]) for i in (0, 1)) for t in curves[0][k][d]}
            for d in range(draws)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="append", required=True)
    parser.add_argument("--clips", default="1,2,4,8,16,all")
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--corpus")
    parser.add_argument("--data")
    parser.add_argument("--pooled", action="store_true", help="pool the runs' predictions before scoring")
    args = parser.parse_args()
    clip_counts = [None if c == "all" else int(c) for c in args.clips.split(",")]
    corpora = ((args.corpus, args.data),) if args.corpus else None
    curves = [run_curve(run, clip_counts, args.draws, corpora) for run in args.run]
    tasks = list(curves[0][clip_counts[0]][0])
    if args.pooled:
        print(f"\ntest UAR % of the {len(curves)} runs' pooled predictions (mean over {args.draws} draws)")
    else:
        print(f"\ntest UAR % (mean ± sd over {len(curves)} run(s); each run: mean over {args.draws} draws)")
    print("| clips per reference | " + " | ".join(tasks) + " |")
    print("|---|" + "---|" * len(tasks))
    for k in clip_counts:
        if args.pooled:
            scores = uar_of(pooled(curves, k))
            cells = [f"{scores[t]:.1f}" for t in tasks]
        else:
            runs = [uar_of(c[k]) for c in curves]
            cells = [f"{np.mean([r[t] for r in runs]):.1f} ± {np.std([r[t] for r in runs], ddof=1):.1f}"
                     if len(runs) > 1 else f"{runs[0][t]:.1f}" for t in tasks]
        print(f"| {'all of the speaker' if k is None else k} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
