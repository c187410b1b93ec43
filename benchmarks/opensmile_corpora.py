"""PROTOCOL.md's openSMILE peer on the clips a multi-corpus kerasser model uses (EmoDB, RAVDESS, BAVED).

The peer of ``benchmarks/opensmile_peer.py`` (eGeMAPSv02 functionals, 88 per clip, + an SVM, C picked
by UAR on the training corpora's dev split; its functions are imported, not copied), trained three ways,
each scored per corpus as PROTOCOL.md's "Several corpora together" asks:

- **in-corpus**: each corpus trained on its own train split (C on its dev split), scored on its test split;
- **multi-corpus**: trained on EmoDB train + RAVDESS train speakers (C on their pooled dev split), scored on
  each corpus' own test split (and, for arousal, on BAVED's test split, a corpus it never saw);
- **leave-one-corpus-out** (LOCO): trained on the other corpora's train split (C on their pooled dev split;
  BAVED, which has only arousal labels, joins for arousal only), scored on every clip of the held-out corpus.

Emotion UAR on a corpus is over that corpus' own classes (the prediction is the highest-scoring of them
among the SVM's classes); the 4-class common UAR is over anger, happiness, sadness and neutral clips, the
prediction the highest-scoring of those four. "Highest-scoring" is the SVM's one-vs-rest decision function
(``SVC.decision_function``, sklearn's default ``ovr`` shape) restricted to those columns; where the allowed
classes are all the SVM's classes this is ``SVC.predict``, as in opensmile_peer.py. Dimension tasks skip
clips without that label (RAVDESS' calm and surprise).

Feature normalisations: ``none`` (the SVM's scaler standardises on the pooled training split),
``corpus`` (each corpus standardised over all of its own clips, test and held-out corpora included:
transductive) and ``speaker`` (each speaker over that speaker's clips, as opensmile_peer.py; transductive).
class_weight is ``balanced`` (opensmile_peer.py's better setting in most cells; ``--weights equal`` for the
other). The SVM is deterministic (no seed), so each cell is one run.

Needs the ``opensmile`` package (``pip install opensmile``; not a kerasser dependency; imported only when
features are not cached). Features are cached in ``--cache`` (one .npz per corpus, shared with
opensmile_peer.py). Usage::

    python benchmarks/opensmile_corpora.py [--data ../shared/data] [--cache runs/opensmile]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.preprocessing import StandardScaler

from kerasser.tasks import COMMON_EMOTIONS, EMOTION, TASKS

_HERE = Path(__file__).resolve().parent


def _peer():
    """benchmarks/opensmile_peer.py as a module (benchmarks/ is not a package)."""
    if "opensmile_peer" in sys.modules:
        return sys.modules["opensmile_peer"]
    spec = importlib.util.spec_from_file_location("opensmile_peer", _HERE / "opensmile_peer.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["opensmile_peer"] = module
    spec.loader.exec_module(module)
    return module


peer = _peer()

CORPORA = ("emodb", "ravdess", "baved")
NAMES = {"emodb": "EmoDB", "ravdess": "RAVDESS", "baved": "BAVED"}
NORMS = ("none", "corpus", "speaker")
KERNELS = peer.KERNELS
COLUMNS = ("emotion", "common", "arousal", "valence", "dominance")
HEADERS = {"emotion": "emotion (own classes)", "common": "4-class common", "arousal": "arousal",
           "valence": "valence", "dominance": "dominance"}
COMMON = tuple(EMOTION.index(c) for c in COMMON_EMOTIONS)  # vocabulary indices


# -- pure scoring logic -------------------------------------------------------------------------------

def restricted_argmax(scores: np.ndarray, classes: Sequence[int], allowed: Sequence[int]) -> np.ndarray:
    """The class (a value of ``classes``, the SVM's ``classes_``) of each row of ``scores`` (clips x
    classes, one column per class) when only ``allowed`` classes may be predicted: the highest-scoring
    of them. A 1-D ``scores`` is a binary SVM's decision (positive: ``classes[1]``)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim == 1:
        scores = np.stack([-scores, scores], axis=1)
    columns = [i for i, c in enumerate(classes) if c in set(allowed)]
    if not columns:
        raise ValueError(f"none of the allowed classes {list(allowed)} is among the SVM's {list(classes)}")
    return np.asarray(classes)[np.asarray(columns)[np.argmax(scores[:, columns], axis=1)]]


def predict_within(model, x: np.ndarray, allowed: Sequence[int]) -> np.ndarray:
    """``model.predict`` where ``allowed`` covers all its classes, else the restricted decision."""
    if set(model.classes_) <= set(allowed):
        return model.predict(x)
    return restricted_argmax(model.decision_function(x), model.classes_, allowed)


def corpus_standardised(x: np.ndarray, corpora: Sequence[str]) -> np.ndarray:
    """Each corpus' rows standardised (zero mean, unit variance per feature) over that corpus' rows."""
    corpora = np.asarray(corpora)
    out = np.empty_like(x, dtype=np.float64)
    for c in np.unique(corpora):
        rows = corpora == c
        out[rows] = StandardScaler().fit_transform(x[rows])
    return out


def normalised(x: np.ndarray, utterances: Sequence, norm: str) -> np.ndarray:
    """One corpus' features under ``norm`` (``none``, ``corpus`` or ``speaker``)."""
    if norm == "corpus":
        return corpus_standardised(x, [u.corpus for u in utterances])
    return peer.normalised(x, utterances, norm)  # speaker ids are per corpus: call it on one corpus


def common_uar(y: np.ndarray, predicted: np.ndarray) -> float:
    """4-class common UAR over the clips whose label is one of COMMON (predictions restricted to COMMON)."""
    rows = np.isin(y, COMMON)
    return peer.uar(y[rows], predicted[rows])


# -- the benchmark ------------------------------------------------------------------------------------

def corpus_classes(utterances: Sequence) -> tuple[int, ...]:
    """The emotion classes (vocabulary indices) a corpus' utterances are labelled with."""
    return tuple(sorted({u.labels["emotion"] for u in utterances if "emotion" in u.labels}))


def pooled(data: dict, corpora: Sequence[str], task: str):
    """Features, labels and splits of ``task`` over ``corpora`` (their rows one after another)."""
    parts = [peer.labelled(data[c][0], data[c][1], task) for c in corpora if _has(data[c][0], task)]
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))


def _has(utterances, task: str) -> bool:
    return any(task in u.labels for u in utterances)


def scored(fit, data: dict, corpus: str, task: str, rows: str) -> dict[str, str]:
    """The cells of one fitted SVM (``fit`` = scaler, model, C) on ``corpus``' ``rows`` (``test`` or ``all``)."""
    scaler, model, c = fit
    utterances, x = data[corpus]
    if not _has(utterances, task):
        return {}
    xs, y, split = peer.labelled(utterances, x, task)
    keep = np.ones(len(y), bool) if rows == "all" else split == rows
    xs, y = scaler.transform(xs[keep]), y[keep]
    tag = f" (C {c:g})"
    if task != "emotion":
        return {task: f"{peer.uar(y, model.predict(xs)):.1f}{tag}"}
    cells = {}
    own = corpus_classes(utterances)
    if set(own) <= set(model.classes_):  # a LOCO SVM lacks some of the held-out corpus' classes
        cells["emotion"] = f"{peer.uar(y, predict_within(model, xs, own)):.1f}{tag}"
    cells["common"] = f"{common_uar(y, predict_within(model, xs, COMMON)):.1f}{tag}"
    return cells


def settings() -> list[tuple[str, dict[str, tuple[str, ...]], list[tuple[str, str]]]]:
    """(setting, training corpora per task, [(scored corpus, rows)]) for every row group."""
    tasks = tuple(TASKS)
    own = [("in-corpus", {t: (c,) for t in tasks}, [(c, "test")]) for c in CORPORA]
    multi = ("multi-corpus", {t: ("emodb", "ravdess") for t in tasks}, [("emodb", "test"), ("ravdess", "test"),
                                                                       ("baved", "test")])
    loco = []
    for held in ("emodb", "ravdess"):
        others = tuple(c for c in ("emodb", "ravdess") if c != held)
        train = {t: others + (("baved",) if t == "arousal" else ()) for t in tasks}
        loco.append(("LOCO", train, [(held, "all")]))
    return [*own, multi, *loco]


def table(data: dict, weights: str | None) -> list[list[str]]:
    """The table's rows: per setting, scored corpus, norm and kernel."""
    rows = []
    for norm in NORMS:
        normed = {c: (u, normalised(x, u, norm)) for c, (u, x) in data.items()}
        for group, (setting, train, targets) in enumerate(settings()):
            trained = " + ".join(NAMES[c] for c in dict.fromkeys(s for t in TASKS for s in train[t]))
            if setting == "LOCO":
                trained = trained.replace(" + BAVED", " (+ BAVED for arousal)")
            for kernel in KERNELS:
                cells: dict[tuple[str, str], dict[str, str]] = {target: {} for target in targets}
                for task in TASKS:
                    sources = [c for c in train[task] if _has(data[c][0], task)]
                    if not sources or not any(_has(data[c][0], task) for c, _ in targets):
                        continue
                    fit = peer.fit_on_dev(*pooled(normed, sources, task), kernel, weights)
                    for target in targets:
                        cells[target].update(scored(fit, normed, target[0], task, target[1]))
                for index, ((corpus, part), row) in enumerate(cells.items()):
                    if not row:
                        continue
                    seen = " (BAVED unseen)" if setting == "multi-corpus" and corpus == "baved" else ""
                    scope = "all clips" if part == "all" else "test split"
                    key = (group, index, NORMS.index(norm), KERNELS.index(kernel))
                    rows.append((key, [setting, trained + seen, f"{NAMES[corpus]} {scope}", norm, kernel]
                                 + [row.get(col, "") for col in COLUMNS]))
            print(f"norm {norm}: {setting} {trained} done", file=sys.stderr, flush=True)
    return [row for _, row in sorted(rows, key=lambda r: r[0])]


def markdown(rows: list[list[str]]) -> str:
    head = ["setting", "trained on (C on its dev split)", "scored on", "norm", "kernel"] + [HEADERS[c] for c in COLUMNS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(os.environ.get("KERASSER_SHARED", "../shared")) / "data"))
    parser.add_argument("--cache", default="runs/opensmile")
    parser.add_argument("--weights", choices=("balanced", "equal"), default="balanced",
                        help="SVC class_weight (default balanced)")
    parser.add_argument("--out", default=str(_HERE / "results" / "opensmile_corpora.md"))
    args = parser.parse_args()
    start = time.time()
    data_dir = Path(args.data).expanduser().resolve()  # one spelling of each path, so the cache matches
    cache = Path(args.cache)
    data = {c: peer.features(c, str(data_dir / c), cache) for c in CORPORA}
    extracted = time.time() - start
    weights = None if args.weights == "equal" else "balanced"
    body = markdown(table(data, weights))
    took = time.time() - start

    import opensmile
    import sklearn

    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    line_break = "  "  # markdown: two trailing spaces
    counts = ", ".join(f"{NAMES[c]} {len(u)}" for c, (u, _) in data.items())
    notes = f"""# openSMILE peer on the corpora of a multi-corpus model (issue 39)

Command: `{command}`{line_break}
{datetime.date.today().isoformat()}, opensmile {opensmile.__version__}, scikit-learn {sklearn.__version__}, \
{counts} clips; {took:.0f} s on one core, of which {extracted:.0f} s reading or extracting features (cache: `{cache}`).

eGeMAPSv02 functionals (88 per clip) + SVC, class_weight {args.weights}, C from {list(peer.C_GRID)} by UAR on the
training corpora's pooled dev split (in brackets). UAR in %. The SVM is deterministic: one run per cell, no seeds.

- in-corpus: trained on the corpus' train split. multi-corpus: EmoDB train + RAVDESS train speakers, scored on
  each corpus' test split (BAVED: never trained on, arousal only). LOCO: trained on the other corpora's train
  split (BAVED's train speakers join for arousal only; C on the pooled dev split), scored on every clip of the
  held-out corpus; its emotion over the held-out corpus' own classes is blank (the SVM lacks some of them).
- emotion (own classes): the prediction is the highest-scoring of the scored corpus' classes among the SVM's
  (one-vs-rest decision_function columns; the plain prediction where they are the same classes).
  4-class common: anger, happiness, sadness, neutral clips only, the prediction the highest-scoring of those four.
  Dimensions: clips without that label (RAVDESS calm, surprise) skipped.
- norm: none = the SVM's scaler fitted on the pooled training split only; corpus = each corpus standardised over
  all of its own clips, test split and held-out corpus included (**transductive**: the held-out corpus'
  statistics come from its own unlabelled audio); speaker = each speaker over that speaker's clips (transductive,
  as PROTOCOL.md's speaker-norm). In-corpus, `corpus` equals `none` by construction (the SVM's own scaler, fitted
  on that corpus' train split, undoes a per-corpus standardisation); it matters where corpora are pooled.
- chance: 4-class common 25.0, arousal / valence / dominance 33.3, emotion 14.3 (EmoDB) / 12.5 (RAVDESS).
"""
    text = notes + "\n" + body + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
