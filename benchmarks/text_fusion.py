"""Audio and text together (bridge tokens, ``--modality``): audio alone against audio+text against text
alone, categorical + dimensional jointly against each alone, and audio+text with the text missing.

    python benchmarks/text_fusion.py fixture                  # the synthetic fixture, 3 seeds (minutes on a CPU)
    python benchmarks/text_fusion.py emodb --seeds 0 --epochs 15 --conditions audio,audio+text --screen
    python benchmarks/text_fusion.py emodb                    # 3 seeds, the default recipe: hours on a CPU
    python benchmarks/text_fusion.py ravdess
    python benchmarks/text_fusion.py report                   # text_fusion.md again from the records

Conditions (each trained per seed on the corpus's train split, the epoch picked on dev, scored on test):

- ``audio``: the audio model (``--modality audio``), tasks a, v, d, e;
- ``audio+text``: the fusion model (``--modality audio+text``, bridge tokens), tasks a, v, d, e; also
  scored with every test transcript removed (``text missing``), which must score as audio alone;
- ``text``: the transcript alone (``--modality text``), tasks a, v, d, e;
- ``audio+text e`` and ``audio+text avd``: the fusion model with the categorical task alone and the
  dimensional tasks alone: the source paper's claim is that jointly beats each alone.

Corpora: ``fixture`` is synthetic (:func:`make_fixture`): the words carry the emotion (75 % of the
sentences name it, the rest name a random one), the audio only its arousal (a tone whose pitch and level
rise with arousal): audio+text must beat audio there. On EmoDB and RAVDESS every emotion is spoken over
the same sentences, so the text carries no emotion: audio+text must not be worse than audio alone.
The fixture trains a small log-mel model without augmentation; EmoDB and RAVDESS the default recipe.

Every run trains into ``runs/text_fusion/<corpus>/<condition>/seed<k>`` (an interrupted run resumes from
its last epoch when the command is run again; a finished one is not trained again) and leaves a record,
``benchmarks/results/text_fusion_runs/<corpus>/<condition>-seed<k>.json``; the report
(``benchmarks/results/text_fusion.md``) is made from all records. ``--screen`` is for a short run (fewer
seeds or epochs than the comparison asks): its runs and records go to ``<corpus>-screen`` folders, apart
from the comparison's, and the report shows them apart, as a screen.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RECORDS = RESULTS / "text_fusion_runs"
REPORT = RESULTS / "text_fusion.md"
RUNS = ROOT / "runs" / "text_fusion"
SHARED = Path(os.environ.get("KERASSER_SHARED", ROOT.parent / "shared")) / "data"
TASKS = ("arousal", "valence", "dominance", "emotion")
CONDITIONS = {  # name: (modality, tasks)
    "audio": ("audio", TASKS),
    "audio+text": ("audio+text", TASKS),
    "text": ("text", TASKS),
    "audio+text e": ("audio+text", ("emotion",)),
    "audio+text avd": ("audio+text", ("arousal", "valence", "dominance")),
}
CORPORA = {"emodb": ("emodb", "emodb"), "ravdess": ("ravdess", "ravdess")}

# --- the synthetic fixture ---------------------------------------------------------------------------

FIXTURE_EMOTIONS = ("anger", "happiness", "sadness", "neutral")
WORDS = {
    "anger": ("angry", "furious", "mad", "outraged", "annoyed"),
    "happiness": ("happy", "glad", "delighted", "thrilled", "joyful"),
    "sadness": ("sad", "unhappy", "miserable", "gloomy", "heartbroken"),
    "neutral": ("fine", "okay", "calm", "settled", "ready"),
}
TEMPLATES = ("i am so {w} about the {n}", "this {n} makes me {w}", "honestly i feel {w} today",
             "the {n} left me {w}", "we were {w} after the {n}")
NOUNS = ("meeting", "letter", "weather", "trip", "news", "dinner", "game", "call")
PITCH = {"low": 140.0, "mid": 200.0, "high": 280.0}  # Hz, by arousal
LEVEL = {"low": 0.08, "mid": 0.16, "high": 0.3}
FIXTURE_SPLITS = {"train": range(0, 6), "dev": range(6, 8), "test": range(8, 10)}
TRUE_WORD = 0.75  # the share of sentences that name their own emotion


def make_fixture(folder: Path, per_class: int = 8, seed: int = 0, rate: int = 16000) -> Path:
    """Write the synthetic corpus under ``folder`` (wav files and ``manifest.csv``, whose path it
    returns): 10 speakers (6 train, 2 dev, 2 test), ``per_class`` clips of each of 4 emotions each.
    The audio carries the arousal only (a tone with harmonics, pitch and level by arousal, jittered,
    in noise); the sentence names the emotion with probability ``TRUE_WORD``, else a random one."""
    import soundfile as sf

    from kerasser.tasks import EMOTION_LEVELS

    manifest = folder / "manifest.csv"
    if manifest.exists():  # made already (the same seed makes the same files)
        return manifest
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for split, speakers in FIXTURE_SPLITS.items():
        for speaker in speakers:
            for emotion in FIXTURE_EMOTIONS:
                arousal, valence, dominance = EMOTION_LEVELS[emotion]
                for k in range(per_class):
                    said = emotion if rng.random() < TRUE_WORD else FIXTURE_EMOTIONS[rng.integers(4)]
                    text = TEMPLATES[rng.integers(len(TEMPLATES))].format(
                        w=WORDS[said][rng.integers(5)], n=NOUNS[rng.integers(len(NOUNS))])
                    seconds = rng.uniform(0.8, 1.2)
                    t = np.arange(int(seconds * rate)) / rate
                    f0 = PITCH[arousal] * rng.uniform(0.92, 1.08) * (1 + 0.03 * np.sin(2 * np.pi * 3 * t))
                    phase = 2 * np.pi * np.cumsum(f0) / rate
                    tone = sum(np.sin(h * phase) / h for h in (1, 2, 3))
                    wave = LEVEL[arousal] * rng.uniform(0.8, 1.2) * tone + rng.normal(0, 0.02, t.size)
                    name = f"s{speaker:02d}_{emotion}_{k:02d}.wav"
                    sf.write(folder / name, wave.astype(np.float32), rate, subtype="PCM_16")
                    rows.append([name, f"s{speaker:02d}", split, text, emotion, arousal, valence, dominance])
    with open(manifest, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "speaker", "split", "text", "emotion", "arousal", "valence", "dominance"])
        writer.writerows(rows)
    return manifest


FIXTURE_MODEL = dict(  # a small log-mel model without augmentation: a few seconds per epoch
    mel_bins=32, block_channels=(32, 32), block_dilations=(1, 2), gru_units=32, bidirectional=False,
    pool_heads=1, pool_statistics=False, dropout=0.1,
)
NO_AUGMENTATION = dict(augment_speed=(), augment_noise_prob=0.0, augment_reverb_prob=0.0,
                       augment_bandlimit_prob=0.0, augment_gain_db=0.0, augment_mixup_alpha=0.0)


# --- runs and records --------------------------------------------------------------------------------


def run_config(corpus: str, data: str, condition: str, seed: int, epochs: int | None, out: Path):
    from kerasser.training.recipes import build_train_config

    modality, tasks = CONDITIONS[condition]
    extra = {**FIXTURE_MODEL, **NO_AUGMENTATION, "batch_size": 16} if corpus == "fixture" else {}
    return build_train_config("default", corpora=((("manifest" if corpus == "fixture" else corpus), data),),
                              out=str(out), tasks=tasks, modality=modality, seed=seed, epochs=epochs, **extra)


def record_path(corpus: str, condition: str, seed: int, screen: bool = False) -> Path:
    return RECORDS / (corpus + ("-screen" if screen else "")) / f"{condition.replace(' ', '_')}-seed{seed}.json"


def run_one(corpus: str, data: str, condition: str, seed: int, epochs: int | None, screen: bool) -> dict:
    """Train (or resume, or reuse) one run and score it on test (and, for audio+text, without text)."""
    from kerasser.config import to_dict
    from kerasser.evaluate.run import evaluate_run
    from kerasser.training.loop import resume, train
    from kerasser.training.runs import RunPaths, read_state

    out = RUNS / (corpus + ("-screen" if screen else "")) / condition.replace(" ", "_") / f"seed{seed}"
    config = run_config(corpus, data, condition, seed, epochs, out)
    state = read_state(RunPaths(out))
    started = time.time()
    quiet = lambda line: None  # noqa: E731
    if state is None:
        train(config, write=quiet)
    elif state["epoch"] < config.epochs and state.get("wait", 0) < config.patience:
        resume(str(out), epochs=config.epochs, write=quiet)
    test = evaluate_run(out, "test", write_report=False, write=quiet)
    record = {
        "corpus": corpus, "condition": condition, "seed": seed, "modality": config.model.modality,
        "tasks": list(config.model.tasks), "epochs": config.epochs, "screen": screen,
        "epochs_done": read_state(RunPaths(out))["epoch"], "best_dev_uar": read_state(RunPaths(out))["best"],
        "test": {t: r["uar"] for t, r in test["tasks"].items()}, "test_mean": test["mean_uar"],
        "seconds": round(time.time() - started, 1), "run": str(out.relative_to(ROOT)),
        "config": json.loads(json.dumps(to_dict(config))),
    }
    if config.model.modality == "audio+text":
        missing = evaluate_run(out, "test", write_report=False, write=quiet, text=False)
        record["test_no_text"] = {t: r["uar"] for t, r in missing["tasks"].items()}
        record["test_no_text_mean"] = missing["mean_uar"]
    path = record_path(corpus, condition, seed, screen)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"{corpus} {condition} seed {seed}: test " + ", ".join(f"{t} {u:.1f}" for t, u in record["test"].items())
          + (" | text missing " + ", ".join(f"{t} {u:.1f}" for t, u in record["test_no_text"].items())
             if "test_no_text" in record else "") + f" ({record['seconds']:.0f} s)", flush=True)
    return record


# --- the report --------------------------------------------------------------------------------------


def read_records() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(RECORDS.glob("*/*.json"))]


def _cell(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"{np.mean(values):.1f} ± {np.std(values):.1f}" if len(values) > 1 else f"{values[0]:.1f}"


def _rows(records, key="test") -> list[str]:
    lines = [f"| condition | seeds | {' | '.join(TASKS)} | mean |", "|---" * (len(TASKS) + 3) + "|"]
    for condition in CONDITIONS:
        runs = [r for r in records if r["condition"] == condition]
        if not runs:
            continue
        cells = [_cell([r["test"].get(t) for r in runs]) for t in TASKS]
        lines.append(f"| {condition} | {len(runs)} | {' | '.join(cells)} | {_cell([r['test_mean'] for r in runs])} |")
        if condition == "audio+text" and all("test_no_text" in r for r in runs):
            cells = [_cell([r["test_no_text"].get(t) for r in runs]) for t in TASKS]
            lines.append(f"| audio+text, text missing | {len(runs)} | {' | '.join(cells)} | "
                         f"{_cell([r['test_no_text_mean'] for r in runs])} |")
    return lines


def _differences(records) -> list[str]:
    """Per-seed differences on the same seeds: audio+text - audio, text missing - audio, and
    jointly - alone (the emotion task against 'e' alone, the dimensions against 'avd' alone)."""
    by = {(r["condition"], r["seed"]): r for r in records}
    lines = []

    def compare(name, a, b, tasks, field_a="test"):
        seeds = sorted(s for (c, s) in by if c == a and (b, s) in by)
        if not seeds:
            return
        parts = []
        for t in tasks:
            d = [by[(a, s)][field_a][t] - by[(b, s)]["test"][t] for s in seeds if t in by[(b, s)]["test"]]
            if d:
                parts.append(f"{t} {np.mean(d):+.1f} (" + ", ".join(f"{x:+.1f}" for x in d) + ")")
        lines.append(f"- {name}, {len(seeds)} seed(s): " + "; ".join(parts))

    compare("audio+text − audio", "audio+text", "audio", TASKS)
    compare("audio+text with the text missing − audio", "audio+text", "audio", TASKS, "test_no_text")
    compare("jointly − emotion alone (audio+text)", "audio+text", "audio+text e", ("emotion",))
    compare("jointly − dimensions alone (audio+text)", "audio+text", "audio+text avd", ("arousal", "valence", "dominance"))
    return lines


def write_report(records: list[dict]) -> str:
    lines = ["# Audio and text together: bridge tokens (`benchmarks/text_fusion.py`)", "",
             "Test UAR in % (mean ± standard deviation over seeds; the epoch picked on dev). Differences are per "
             "seed, on the same seeds (in brackets). Made by `python benchmarks/text_fusion.py report` from "
             "`benchmarks/results/text_fusion_runs/`.", "",
             "`audio+text, text missing` is the same audio+text model scored with every test transcript removed "
             "(`kerasser evaluate --without-text`): against `audio` it tells what the fusion architecture gives "
             "without words, against `audio+text` what the words give. `audio+text e` / `avd`: the categorical "
             "task alone / the dimensional tasks alone (the source paper's claim: jointly beats each alone). "
             "EmoDB's transcripts here are the words spoken within the shared copy's 2 s cut (PROTOCOL.md), so "
             "their length follows the speaking rate: a weak arousal cue, not the words' meaning.", ""]
    for corpus in ("fixture", "emodb", "ravdess"):
        for screen in (False, True):
            chosen = [r for r in records if r["corpus"] == corpus and bool(r.get("screen")) == screen]
            if not chosen:
                continue
            epochs = sorted({r["epochs"] for r in chosen})
            title = {"fixture": "Synthetic fixture (the words carry the emotion, the audio its arousal)",
                     "emodb": "EmoDB (the same sentences in every emotion)",
                     "ravdess": "RAVDESS (two statements in every emotion)"}[corpus]
            lines += [f"## {title}{': a SCREEN, not the comparison' if screen else ''}", "",
                      f"Epoch budget {', '.join(map(str, epochs))}.", "", *_rows(chosen), "", *_differences(chosen), ""]
    REPORT.write_text("\n".join(lines) + "\n")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", choices=("fixture", *CORPORA, "report"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=None, help="epoch budget (default: fixture 40, else the recipe's)")
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--screen", action="store_true", help="mark the records as a screen (too short to compare)")
    args = parser.parse_args()
    if args.corpus != "report":
        conditions = [c.strip() for c in args.conditions.split(",")]
        unknown = [c for c in conditions if c not in CONDITIONS]
        if unknown:
            parser.error(f"unknown condition(s) {', '.join(unknown)}; expected {', '.join(CONDITIONS)}")
        if args.corpus == "fixture":
            data, epochs = str(make_fixture(RUNS / "fixture_data")), args.epochs or 40
        else:
            data, epochs = str(SHARED / CORPORA[args.corpus][1]), args.epochs
        for seed in (int(s) for s in args.seeds.split(",")):
            for condition in conditions:
                run_one(args.corpus, data, condition, seed, epochs, args.screen)
    print(write_report(read_records()))


if __name__ == "__main__":
    main()
