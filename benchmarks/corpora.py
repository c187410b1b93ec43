"""Several corpora: each system's in-corpus test scores and its leave-one-corpus-out (LOCO) scores.

    python benchmarks/corpora.py --configs emodb,multi --protocol loco --seeds 0,1,2
    python benchmarks/corpora.py --configs multi --protocol fixed --seeds 0
    python benchmarks/corpora.py --report                   # the table of every finished run

A system is a recipe plus overrides (``kerasser.training.recipes.build_train_config``, as ``kerasser train``
builds it) and the corpora it trains on, with tasks a, v, d, e. Protocols (PROTOCOL.md, "Several
corpora together"):

- ``fixed``: trained on its corpora's train splits (the epoch picked on their dev splits), then
  scored on the test split of every corpus here, each apart (``kerasser.evaluate.corpus_scores``: emotion
  over the corpus' own classes, the 4-class common UAR, each dimension): in-corpus for the corpora
  it trained on, cross-corpus for the others.
- ``loco``: ``kerasser crossval --folds corpus`` over the system's corpora: each corpus held out in
  turn, trained on the others' train splits, every clip of the held-out corpus scored.

Runs live under ``--runs`` (``<config>/<protocol>/seed<N>``) and resume where they stopped (rerun
the same command). Each finished run's scores are kept in ``--records`` (committed), and the
table (mean ± sd over the seeds, the number of seeds beside it) is printed and written to
``--table``, with the openSMILE peer's rows on the same clips (``benchmarks/opensmile_corpora.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

TASKS = ("emotion", "arousal", "valence", "dominance")
CORPORA = ("emodb", "ravdess", "baved")
COMMON = "emotion_common"

# name -> (recipe, overrides, corpora trained on, what it shows)
CONFIGS: dict[str, tuple[str, dict, tuple[str, ...], str]] = {
    "emodb": ("default", {}, ("emodb",), "the default recipe on EmoDB alone (today's shipped recipe)"),
    "ravdess": ("default", {}, ("ravdess",), "the default recipe on RAVDESS alone"),
    "multi": ("default", {}, ("emodb", "ravdess"), "the default recipe on EmoDB + RAVDESS, one label space"),
    "multi+balance": ("default", {"balance_corpora": True}, ("emodb", "ravdess"),
                      "EmoDB + RAVDESS, each corpus the same total weight per task (--balance-corpora)"),
    "multi+baved": ("default", {"balance_corpora": True}, ("emodb", "ravdess", "baved"),
                    "EmoDB + RAVDESS + BAVED (arousal only), corpora balanced"),
    # generalisation options (issue 39), each on top of multi+balance, chosen on LOCO and dev
    "multi+corpus-adv": ("default", {"balance_corpora": True, "speaker_adversarial": 0.1, "adversary": "corpus"},
                         ("emodb", "ravdess"), "corpus-adversarial training (gradient reversal 0.1 on the corpus)"),
    "multi+mixstyle": ("default", {"balance_corpora": True, "mixstyle": 0.5}, ("emodb", "ravdess"),
                       "MixStyle after the first convolution block (p 0.5)"),
    "multi+codec": ("default", {"balance_corpora": True, "augment_codec_prob": 0.3}, ("emodb", "ravdess"),
                    "a telephone channel (narrow band, 8 kHz, mu-law) on 30 % of the training copies"),
    "multi+meanvar": ("default", {"balance_corpora": True, "feature_norm": "meanvar"}, ("emodb", "ravdess"),
                      "mean and variance normalisation per utterance (level and channel gain removed)"),
    "multi+level": ("default", {"balance_corpora": True, "feature_norm": "level"}, ("emodb", "ravdess"),
                    "level normalisation per utterance: the gain removed, the spectral shape and its "
                    "dynamics kept"),
    "multi+gate": ("default", {"balance_corpora": True, "norm_gate_db": 30.0}, ("emodb", "ravdess"),
                   "the per-utterance mean over the speech frames only (within 30 dB of the loudest): "
                   "the silence around speech (half of a RAVDESS clip) no longer shifts the level"),
    "tiny-multi": ("tiny", {}, ("emodb", "ravdess"), "the tiny recipe (issue 45) on EmoDB + RAVDESS, one label space "
                   "(as multi)"),
    "multi+2gru": ("default", {"balance_corpora": True, "gru_layers": 2}, ("emodb", "ravdess"),
                   "capacity: two bidirectional GRU layers (the data is three times larger)"),
}

# (corpus, score) columns of the table: the corpus' own emotion classes, the 4-class common UAR, dimensions
COLUMNS = {
    "fixed": [("emodb", "emotion"), ("emodb", "arousal"), ("emodb", "valence"), ("emodb", "dominance"),
              ("ravdess", "emotion"), ("ravdess", COMMON), ("ravdess", "arousal"), ("ravdess", "valence"),
              ("baved", "arousal")],
    "loco": [("emodb", COMMON), ("emodb", "emotion"), ("emodb", "arousal"), ("emodb", "valence"),
             ("ravdess", COMMON), ("ravdess", "emotion"), ("ravdess", "arousal"), ("ravdess", "valence"),
             ("baved", "arousal")],
}


def train_config(name: str, protocol: str, seed: int, args):
    from kerasser.training.recipes import build_train_config

    recipe, overrides, corpora, _ = CONFIGS[name]
    return build_train_config(
        recipe, corpora=tuple((c, str(Path(args.data) / c)) for c in corpora),
        out=str(Path(args.runs) / name / protocol / f"seed{seed}"), tasks=TASKS, seed=seed, **overrides,
    )


def run_fixed(name: str, seed: int, args) -> dict:
    """Train (or resume) one run on its corpora's train splits; each corpus' test split scored apart."""
    from kerasser.evaluate.run import evaluate_run
    from kerasser.training.loop import train
    from kerasser.training.runs import RunPaths, read_state

    config = train_config(name, "fixed", seed, args)
    state = read_state(RunPaths(Path(config.out)))
    if not (state and (state["epoch"] >= config.epochs or state["wait"] >= config.patience)):
        train(config, resume=state is not None)
    state = read_state(RunPaths(Path(config.out)))
    scores = {}
    for corpus in CORPORA:
        report = evaluate_run(config.out, "test", corpora=((corpus, str(Path(args.data) / corpus)),),
                              write_report=False)
        scores[corpus] = report["per_corpus"][corpus]
    return {"best_epoch": state["best_epoch"], "dev_uar": state["best"], "scores": scores}


def run_loco(name: str, seed: int, args) -> dict:
    """``crossval --folds corpus`` of the system (continued where it stopped): the held-out corpora's scores."""
    from kerasser.evaluate.crossval import crossval

    summary = crossval(train_config(name, "loco", seed, args), folds="corpus")
    best_epochs = {f["fold"]: f["best_epoch"] for f in summary["folds"]}
    return {"best_epoch": best_epochs, "scores": summary["held_out"],
            "scores_speaker_norm": summary["held_out_speaker_norm"]}


def record_file(args, name: str, protocol: str, seed: int) -> Path:
    return Path(args.records) / f"{name}.{protocol}.seed{seed}.json"


def table(args) -> str:
    """Markdown tables (one per protocol) of the records: mean ± sd over seeds (n), and the peers."""
    records: dict[tuple[str, str], list[dict]] = {}
    for file in sorted(Path(args.records).glob("*.json")):
        name, protocol, _ = file.stem.rsplit(".", 2)
        records.setdefault((name, protocol), []).append(json.loads(file.read_text()))
    lines = []
    sections = [("fixed", "scores", "In-corpus test splits (a corpus a system did not train on is cross-corpus for it)"),
                ("loco", "scores", "Leave-one-corpus-out: each corpus held out, all of its clips scored"),
                ("loco", "scores_speaker_norm", "Leave-one-corpus-out, each speaker's predictions centred on the "
                 "speaker's mean (transductive: it uses the held-out speakers' unlabelled audio; compare with "
                 "the openSMILE speaker-norm rows)")]
    for protocol, key, title in sections:
        columns = COLUMNS[protocol]
        lines += [f"### {title}", "", "UAR %, mean ± sd over seeds (n); emotion over the corpus' own classes; "
                  "common: the 4-class UAR over anger, happiness, sadness, neutral.", ""]
        head = " | ".join(f"{c} {'common' if s == COMMON else s}" for c, s in columns)
        lines += [f"| system | {head} |", "|---" * (len(columns) + 1) + "|"]
        for name in CONFIGS:
            runs = [r for r in records.get((name, protocol), []) if key in r]
            if not runs:
                continue
            cells = []
            for corpus, score in columns:
                values = [r[key][corpus][score] for r in runs if score in r[key].get(corpus, {})]
                sd = np.std(values, ddof=1) if len(values) > 1 else 0.0  # the sample sd over seeds
                cells.append(f"{np.mean(values):.1f} ± {sd:.1f} ({len(values)})"
                             if values else "")
            lines.append(f"| {name}: {CONFIGS[name][3]} | " + " | ".join(cells) + " |")
        lines.append("")
    peers = Path(args.peers)
    if peers.exists():
        lines += ["### openSMILE eGeMAPS + SVM on the same clips", "", f"From `{peers}` "
                  "(`python benchmarks/opensmile_corpora.py`).", ""]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", default="multi", help=f"comma-separated, of {', '.join(CONFIGS)}")
    parser.add_argument("--protocol", choices=("fixed", "loco"), default="loco")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--runs", default="runs/corpora")
    parser.add_argument("--records", default="benchmarks/results/corpora_runs")
    parser.add_argument("--table", default="benchmarks/results/corpora.md")
    parser.add_argument("--peers", default="benchmarks/results/opensmile_corpora.md")
    parser.add_argument("--report", action="store_true", help="only write the table of the finished runs")
    parser.add_argument("--threads", type=int, default=0,
                        help="TensorFlow threads (0: all cores; 1 to run two instances side by side on 2 cores)")
    args = parser.parse_args(argv)
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    if not args.report:
        names = [c.strip() for c in args.configs.split(",") if c.strip()]
        unknown = [n for n in names if n not in CONFIGS]
        if unknown:
            parser.error(f"unknown config(s) {', '.join(unknown)}; expected {', '.join(CONFIGS)}")
        for name in names:
            for seed in (int(s) for s in args.seeds.split(",")):
                result = (run_fixed if args.protocol == "fixed" else run_loco)(name, seed, args)
                file = record_file(args, name, args.protocol, seed)
                file.parent.mkdir(parents=True, exist_ok=True)
                record = {"config": name, "protocol": args.protocol, "seed": seed, **result}
                file.write_text(json.dumps(record, indent=2) + "\n")
                print(f"{name} {args.protocol} seed {seed}: {json.dumps(result['scores'])}", file=sys.stderr)
    text = table(args)
    Path(args.table).write_text("# Several corpora (`python benchmarks/corpora.py --report`)\n\n" + text + "\n")
    print(text)


if __name__ == "__main__":
    main()
