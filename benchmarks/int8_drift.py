"""What int8 quantisation changes: an export's float32 and int8 TFLite models side by side.

    python benchmarks/int8_drift.py [--model exported/emodb-avde] [--data ../shared/data]

Runs both models (LiteRT, no TensorFlow) on EmoDB's and BAVED's test splits (PROTOCOL.md) and
prints, per corpus and task: the float32 UAR, the int8 UAR, the change, how many utterances
changed class, and what one utterance is worth in UAR points on that split (100 / (classes x
size of the smallest class): a change smaller than that cannot be told from one utterance). The
export's own check (``metadata.json``'s ``parity.int8``) scores EmoDB's test split only.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np


def scores(model_dir: Path, utterances, tasks) -> dict:
    from sklearn.metrics import recall_score

    from kerasser import audio
    from kerasser.inference import load_exported

    models = {v: load_exported(model_dir, variant=v) for v in ("float32", "int8")}
    preds = {v: {t: [] for t in tasks} for v in models}
    truth = {t: [] for t in tasks}
    for u in utterances:
        wave = audio.load(u.path, models["float32"].sample_rate)
        outs = {v: m.predict(wave) for v, m in models.items()}
        for t in tasks:
            if t in u.labels:
                truth[t].append(u.labels[t])
                for v in models:
                    preds[v][t].append(int(np.argmax(outs[v][t])))
    table = {}
    for t in tasks:
        if not truth[t]:
            continue
        y = np.array(truth[t])
        uar = {v: 100 * recall_score(y, preds[v][t], average="macro", labels=np.unique(y)) for v in models}
        counts = np.bincount(y)
        counts = counts[counts > 0]
        table[t] = {
            "n": len(y),
            "float32": uar["float32"],
            "int8": uar["int8"],
            "changed": int(np.sum(np.array(preds["float32"][t]) != np.array(preds["int8"][t]))),
            "one_utterance": 100 / (len(counts) * counts.min()),
        }
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="exported/emodb-avde")
    parser.add_argument("--data", default=os.environ.get("KERASSER_SHARED", "../shared") + "/data")
    args = parser.parse_args()
    from kerasser.contract import read_metadata
    from kerasser.corpora import read_corpora, select

    model = Path(args.model)
    tasks = [t["name"] for t in read_metadata(model)["tasks"]]
    print(f"model {model}: float32 vs int8 TFLite (LiteRT)")
    print(f"{'corpus':<7} {'task':<10} {'n':>4} {'float32':>8} {'int8':>6} {'change':>7} {'changed':>8} {'1 utt.':>7}")
    for corpus in ("emodb", "baved"):
        utterances = select(read_corpora([(corpus, str(Path(args.data) / corpus))]), "test", tasks)
        for t, r in scores(model, utterances, tasks).items():
            print(f"{corpus:<7} {t:<10} {r['n']:>4} {r['float32']:>8.1f} {r['int8']:>6.1f} "
                  f"{r['int8'] - r['float32']:>+7.1f} {r['changed']:>8} {r['one_utterance']:>7.1f}")


if __name__ == "__main__":
    main()
