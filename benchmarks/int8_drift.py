"""What int8 quantisation changes: exports' float32 and int8 TFLite models side by side.

    python benchmarks/int8_drift.py [--model exported/emodb-avde ...] [--data ../shared/data]

Runs both models of each export (LiteRT, no TensorFlow) on EmoDB's and BAVED's test splits
(PROTOCOL.md) and prints, per corpus and task: the float32 UAR, the int8 UAR, the change, how many
utterances changed class, how many of those int8 got wrong that float32 got right ("broke") and the
reverse ("fixed"), the 95 % paired-bootstrap interval of the change (``kerasser.evaluate.significance``:
the same resampled utterances score both models; an interval that holds 0 is a change the test
utterances cannot tell from flip noise), and what one utterance is worth in UAR points
(100 / (classes x size of the smallest class): a change smaller than that cannot be told from one
utterance).

Each export is scored on its own run's test speakers (``metadata.json``'s training run,
``config.json``'s speaker splits: a cross-validation fold's held-out speaker), and with several
``--model``s the predictions are pooled before scoring, as the pooled UAR of ``kerasser crossval``.
So the int8 change of a recipe can be measured on far more utterances than one test split holds:
the exports of a leave-one-speaker-out run (one per fold, ``kerasser export FOLD --quantize int8``)
score every EmoDB utterance once. The export's own check (``metadata.json``'s ``parity.int8``)
scores one model's test split only.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np


def speaker_splits(model_dir: Path):
    """The speaker splits of the run an export was made from (None: PROTOCOL.md's split)."""
    from kerasser.config import load_train_config
    from kerasser.contract import read_metadata

    config = Path(read_metadata(model_dir)["training"].get("run") or "") / "config.json"
    return load_train_config(config).speaker_splits if config.is_file() else None


def predictions(model_dir: Path, utterances, tasks) -> dict:
    """``{task: (truth, float32 classes, int8 classes)}`` over ``utterances``."""
    from kerasser.data import audio
    from kerasser.serve.inference import load_exported

    models = {v: load_exported(model_dir, variant=v) for v in ("float32", "int8")}
    out = {t: ([], [], []) for t in tasks}
    for u in utterances:
        wave = audio.load(u.path, models["float32"].sample_rate)
        outs = {v: m.predict(wave) for v, m in models.items()}
        for t in tasks:
            if t in u.labels:
                truth, f32, i8 = out[t]
                truth.append(u.labels[t])
                f32.append(int(np.argmax(outs["float32"][t])))
                i8.append(int(np.argmax(outs["int8"][t])))
    return out


def table(pooled: dict) -> dict:
    """UAR of float32 and int8, the change, its paired-bootstrap interval and its resolution, per
    task of ``pooled``."""
    from sklearn.metrics import recall_score

    from kerasser.evaluate.significance import bootstrap_difference

    rows = {}
    for t, (truth, f32, i8) in pooled.items():
        if not truth:
            continue
        y = np.array(truth)
        labels = np.unique(y)
        uar = {k: 100 * recall_score(y, p, average="macro", labels=labels) for k, p in (("float32", f32), ("int8", i8))}
        f32, i8 = np.array(f32), np.array(i8)
        counts = np.bincount(y)
        classes = len(counts)
        counts = counts[counts > 0]
        rows[t] = {
            "n": len(y),
            **uar,
            "changed": int(np.sum(f32 != i8)),
            "broke": int(np.sum((f32 == y) & (i8 != y))),
            "fixed": int(np.sum((f32 != y) & (i8 == y))),
            "interval": bootstrap_difference(y, i8, f32, classes),
            "one_utterance": 100 / (len(counts) * counts.min()),
        }
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", help="an export folder; repeatable (predictions pooled)")
    parser.add_argument("--data", default=os.environ.get("KERASSER_SHARED", "../shared") + "/data")
    parser.add_argument("--corpora", default="emodb,baved")
    args = parser.parse_args()
    from kerasser.contract import read_metadata
    from kerasser.data.corpora import read_corpora, select

    models = [Path(m) for m in args.model or ["exported/emodb-avde"]]
    tasks = [t["name"] for t in read_metadata(models[0])["tasks"]]
    names = ", ".join(str(m) for m in models) if len(models) < 4 else f"{len(models)} exports under {models[0].parent}"
    print(f"model {names}: float32 vs int8 TFLite (LiteRT)" + (", predictions pooled" if len(models) > 1 else ""))
    print(f"{'corpus':<7} {'task':<10} {'n':>5} {'float32':>8} {'int8':>6} {'change':>7} {'changed':>8} {'broke':>6} {'fixed':>6} {'95% interval':>16} {'1 utt.':>7}")
    for corpus in args.corpora.split(","):
        pooled = {t: ([], [], []) for t in tasks}
        for model in models:
            splits = speaker_splits(model) if corpus == "emodb" else None
            utterances = select(read_corpora([(corpus, str(Path(args.data) / corpus))], splits), "test", tasks)
            for t, lists in predictions(model, utterances, tasks).items():
                for into, values in zip(pooled[t], lists):
                    into.extend(values)
        for t, r in table(pooled).items():
            interval = "[{:+.2f}, {:+.2f}]".format(*r["interval"])
            print(f"{corpus:<7} {t:<10} {r['n']:>5} {r['float32']:>8.1f} {r['int8']:>6.1f} "
                  f"{r['int8'] - r['float32']:>+7.1f} {r['changed']:>8} {r['broke']:>6} {r['fixed']:>6} "
                  f"{interval:>16} {r['one_utterance']:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
