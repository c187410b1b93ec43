"""PROTOCOL.md's openSMILE peer, reproduced, and trained on EmoDB to label BAVED.

PROTOCOL.md's reference rows: eGeMAPSv02 functionals (88 per clip) + an SVM (linear or RBF
kernel), C picked on the corpus' dev split, with or without "speaker-norm" (each speaker's features
standardised over that speaker's own clips, test speakers included). Its BAVED row does not say
which corpus the SVM was trained on. This script measures both, on the same files and splits as
kerasser (``kerasser.data.corpora``): each corpus trained on its own train split (C on its dev split),
and the EmoDB-trained SVMs scored on BAVED's test split as kerasser's EmoDB-trained models are
(EmoDB's arousal classes, C on EmoDB's dev split). Scores are UAR in % (sklearn's macro recall).

Needs the ``opensmile`` package (``pip install opensmile``; not a kerasser dependency). Features
are cached in ``--cache`` (one .npz per corpus). Usage::

    python benchmarks/opensmile_peer.py [--data ../shared/data] [--cache runs/opensmile]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import recall_score
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from kerasser.data.corpora import read_corpus

TASKS = ("emotion", "arousal", "valence", "dominance")
KERNELS = ("linear", "rbf")
C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
NORMS = ("none", "speaker")
CLASS_WEIGHTS = (None, "balanced")  # sklearn's SVC class_weight: none, or each class weighted by 1 / its share


def features(corpus: str, path: str, cache: Path) -> tuple[list, np.ndarray]:
    """The corpus' utterances and their eGeMAPSv02 functionals (clips x 88), cached."""
    utterances = read_corpus(corpus, path)
    return utterances, egemaps(corpus, [u.path for u in utterances], cache)


def egemaps(corpus: str, paths: list[str], cache: Path) -> np.ndarray:
    """The eGeMAPSv02 functionals of ``paths`` (clips x 88), from ``cache/egemaps-<corpus>.npz``
    when that holds exactly these paths in this order, else extracted (one core) and cached."""
    file = cache / f"egemaps-{corpus}.npz"
    if file.exists():
        kept = np.load(file, allow_pickle=False)
        if list(kept["paths"]) == list(paths):
            return kept["x"]
    import opensmile

    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)
    rows = []
    for i, p in enumerate(paths):
        rows.append(smile.process_file(p).to_numpy()[0])
        if (i + 1) % 200 == 0:
            print(f"{corpus}: {i + 1} of {len(paths)} clips", file=sys.stderr)
    x = np.asarray(rows, dtype=np.float64)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(file, paths=np.asarray(list(paths)), x=x)
    return x


def normalised(x: np.ndarray, utterances: list, norm: str) -> np.ndarray:
    """``speaker``: each speaker's clips standardised over that speaker's clips (all splits);
    ``none``: the features as they are (the SVM's pipeline standardises on the training split)."""
    if norm == "none":
        return x
    out = np.empty_like(x)
    speakers = np.asarray([u.speaker for u in utterances])
    for s in np.unique(speakers):
        rows = speakers == s
        out[rows] = StandardScaler().fit_transform(x[rows])
    return out


def uar(y_true, y_pred) -> float:
    return 100.0 * recall_score(y_true, y_pred, average="macro")


def fit_on_dev(x, y, split, kernel: str, weights: str | None) -> tuple[StandardScaler, SVC, float]:
    """An SVM on the train split, C picked by dev UAR; returns the scaler, the model and C."""
    train, dev = split == "train", split == "dev"
    scaler = StandardScaler().fit(x[train])
    best = None
    for c in C_GRID:
        model = SVC(kernel=kernel, C=c, class_weight=weights).fit(scaler.transform(x[train]), y[train])
        score = uar(y[dev], model.predict(scaler.transform(x[dev])))
        if best is None or score > best[0]:
            best = (score, model, c)
    return scaler, best[1], best[2]


def labelled(utterances, x, task):
    """The rows that have ``task``: features, labels and splits."""
    rows = np.asarray([task in u.labels for u in utterances])
    y = np.asarray([u.labels.get(task, -1) for u in utterances])[rows]
    split = np.asarray([u.split for u in utterances])[rows]
    return x[rows], y, split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("KERASSER_SHARED", "../shared") + "/data")
    parser.add_argument("--cache", default="runs/opensmile")
    args = parser.parse_args()
    cache = Path(args.cache)
    emodb, x_emodb = features("emodb", f"{args.data}/emodb", cache)
    baved, x_baved = features("baved", f"{args.data}/baved", cache)

    print("openSMILE eGeMAPSv02 functionals + SVM, C picked on the training corpus' dev split; UAR in % (C in brackets)")
    print(f"{'trained on':<10} {'norm':<8} {'classes':<9} {'kernel':<7} " + " ".join(f"{t:>16}" for t in TASKS) + f" {'BAVED arousal':>16}")
    for norm in NORMS:
        xe = normalised(x_emodb, emodb, norm)
        xb = normalised(x_baved, baved, norm)
        _, yb, split_b = labelled(baved, xb, "arousal")
        for weights, kernel in itertools.product(CLASS_WEIGHTS, KERNELS):
            cells = []
            for task in TASKS:
                x, y, split = labelled(emodb, xe, task)
                scaler, model, c = fit_on_dev(x, y, split, kernel, weights)
                test = split == "test"
                cells.append(f"{uar(y[test], model.predict(scaler.transform(x[test]))):6.1f} (C {c:g})")
                if task == "arousal":  # EmoDB's arousal classes are BAVED's levels (low, mid, high)
                    bt = split_b == "test"
                    cross = f"{uar(yb[bt], model.predict(scaler.transform(xb[bt]))):6.1f} (C {c:g})"
            print(f"{'EmoDB':<10} {norm:<8} {weights or 'equal':<9} {kernel:<7} "
                  + " ".join(f"{cell:>16}" for cell in cells) + f" {cross:>16}")
        for weights, kernel in itertools.product(CLASS_WEIGHTS, KERNELS):
            scaler, model, c = fit_on_dev(xb, yb, split_b, kernel, weights)
            bt = split_b == "test"
            own = f"{uar(yb[bt], model.predict(scaler.transform(xb[bt]))):6.1f} (C {c:g})"
            print(f"{'BAVED':<10} {norm:<8} {weights or 'equal':<9} {kernel:<7} "
                  + " ".join(f"{'':>16}" for _ in TASKS) + f" {own:>16}")


if __name__ == "__main__":
    main()
