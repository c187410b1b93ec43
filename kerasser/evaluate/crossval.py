"""Speaker-independent cross-validation: leave-one-speaker-out, K speaker-grouped folds, PROTOCOL.md's
folds of a corpus, or leave-one-corpus-out.

``crossval(config, folds="loso")`` trains one ordinary run per fold under ``config.out``
(``fold-<name>/``), each with ``TrainConfig.speaker_splits`` set to the fold's test, dev and
train speakers, scores the fold's test speakers, and writes ``crossval.json``: per-fold UAR per
task, the mean over folds, and the pooled UAR (confusion matrices summed over all folds, so every
utterance counts once), also with each test speaker's predictions centred on that speaker's mean
(``pooled_speaker_norm``: :mod:`kerasser.evaluate.speaker_norm`, transductive). Dev speakers (for the
checkpoint and early stopping) are drawn, seeded, from each fold's training speakers; the test
speakers never influence training or selection. Leave-one-corpus-out (``folds="corpus"``) holds
out each corpus in turn, trains on the others' train splits and picks the epoch on their dev
splits, and scores every clip of the held-out corpus (``held_out`` in crossval.json: emotion over
its own classes, the 4-class common UAR, each dimension; ``held_out_speaker_norm``: the same with
each speaker's predictions centred, transductive). Finished folds are reused, so an
interrupted cross-validation continues where it stopped.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from kerasser.config import TrainConfig, as_given, to_dict
from kerasser.data.corpora import read_corpora, speakers
from kerasser.data.folds import corpus_folds, make_folds  # noqa: F401  (make_folds: the public name)
from kerasser.data.label_space import corpus_classes
from kerasser.errors import DataError, SettingsError
from kerasser.evaluate.corpus_scores import corpus_reports
from kerasser.evaluate.speaker_norm import normalise_by_speaker, normalise_predictions
from kerasser.metrics import task_report
from kerasser.progress import writer
from kerasser.tasks import vocabulary_indices
from kerasser.training.runs import CROSSVAL_SUMMARY, RunError, RunPaths, make_folder, write_json_atomic


def pooled_uar(reports: Sequence[dict], task: str) -> float:
    """UAR of the summed confusion matrices of ``task`` over ``reports`` (one per fold)."""
    confusion = sum(np.asarray(r["tasks"][task]["confusion"]) for r in reports if task in r["tasks"])
    truth = np.repeat(np.arange(len(confusion)), confusion.sum(axis=1))
    predicted = np.concatenate([np.repeat(np.arange(len(row)), row) for row in confusion])
    return task_report(task, truth, predicted)["uar"]


def fold_scores(run_dir) -> dict:
    """A fold's model scored on its held-out speakers (the run's test split): ``files`` and, per
    task, UAR and confusion matrix, as they are (``tasks``) and speaker-normalised
    (``speaker_norm``), what :func:`pooled_uar` sums over folds; and ``predictions``, the
    per-utterance probabilities as they are (``run_evaluation.per_utterance``), which
    :func:`averaged_fold` averages over runs once their folders are gone."""
    from kerasser.evaluate.run import evaluate_run

    scores = {}
    for key, speaker_norm in (("tasks", False), ("speaker_norm", True)):
        report = evaluate_run(run_dir, "test", write_report=False, speaker_norm=speaker_norm)
        scores["files"] = report["files"]
        scores[key] = {t: {"uar": r["uar"], "confusion": r["confusion"]} for t, r in report["tasks"].items()}
        if not speaker_norm:
            scores["predictions"] = report["predictions"]
            scores["per_corpus"] = report["per_corpus"]
    return scores


def averaged_fold(entries: Sequence[dict]) -> dict:
    """One fold scored on the mean of several runs' probabilities (``entries``: that fold's
    :func:`fold_scores` of each run, e.g. of each seed, with their ``predictions``), scored and
    speaker-normalised as :func:`fold_scores` scores a run: what an ensemble of the runs' models
    (``kerasser.training.ensemble``, which averages their probabilities) scores there, made without the
    models. Each speaker's centring uses that speaker's clips labelled for the task (all of them
    when every clip has every label, as in EmoDB). ValueError when the runs scored other clips."""
    if not entries or any("predictions" not in e for e in entries):
        raise ValueError("every fold report needs its per-utterance predictions")
    first = entries[0]
    scores = {"fold": first["fold"], "files": first["files"], "tasks": {}, "speaker_norm": {}, "predictions": {}}
    for task, kept in first["predictions"].items():
        members = [e["predictions"].get(task) for e in entries]
        if any(m is None or m["paths"] != kept["paths"] or m["labels"] != kept["labels"] for m in members):
            raise ValueError(f"fold {first['fold']}: the runs scored other {task} clips")
        probs = np.mean([np.asarray(m["probabilities"], np.float64) for m in members], axis=0)
        labels = np.asarray(kept["labels"])
        head = kept.get("classes")  # the head's classes where they are not the vocabulary
        for key, p in (("tasks", probs), ("speaker_norm", normalise_by_speaker(probs, kept["speakers"]))):
            report = task_report(task, labels, vocabulary_indices(task, np.argmax(p, axis=1), head))
            scores[key][task] = {"uar": report["uar"], "confusion": report["confusion"]}
        scores["predictions"][task] = {**kept, "predicted": vocabulary_indices(task, np.argmax(probs, axis=1),
                                                                               head).tolist(),
                                       "probabilities": np.round(probs, 6).tolist()}
    return scores


def crossval(
    config: TrainConfig,
    folds: str | int = "loso",
    dev_speakers: int = 2,
    write: Callable[[str], None] | None = None,
    only: Sequence[int] | None = None,
) -> dict | None:
    """Run every fold of ``config`` (see the module docstring) and return the crossval.json report.

    ``only``: train just these fold indices (0-based; to spread folds over processes) and return
    None unless every fold is then finished."""
    write = writer(write)
    if config.speaker_splits is not None:
        raise SettingsError("cross-validation sets the speaker splits itself")
    if config.distill_from:
        raise SettingsError(
            "cross-validation cannot distil from fixed teachers: each fold would need teachers trained "
            "without its held-out speaker"
        )
    root = make_folder(config.out)  # an unusable --out is said before any corpus is read
    utterances = [u for u in read_corpora(config.corpora) if any(t in u.labels for t in config.model.tasks)]
    if not utterances:
        raise DataError("no labelled utterances in the given corpora")
    if folds == "corpus":
        plan = corpus_folds(utterances)
    else:
        plan = make_folds(speakers(utterances), folds, dev_speakers, config.seed)
    start = time.monotonic()
    results = []
    for i, fold in enumerate(plan):
        report_file = RunPaths(root / f"fold-{fold.name}").fold_report
        if report_file.exists():
            results.append(json.loads(report_file.read_text()))
        elif only is None or i in only:
            write(f"fold {i + 1}/{len(plan)}: test {', '.join(fold.test)}; dev {', '.join(fold.dev)}")
            results.append(_run_fold(config, fold, root / f"fold-{fold.name}", write))
    if len(results) < len(plan):
        return None
    held_out = _held_out(results, utterances) if folds == "corpus" else {}
    summary = _summary(config, results, time.monotonic() - start, held_out)
    write_json_atomic(root / CROSSVAL_SUMMARY, summary)
    return summary


def _run_fold(config: TrainConfig, fold, out: Path, write) -> dict:
    """Train (or resume) one fold's run in ``out`` and score it: its fold_report.json entry."""
    from kerasser.training.loop import train

    fold_config = dataclasses.replace(config, out=str(out), speaker_splits=fold.speaker_splits(),
                                      train_splits=("train",), dev_split="dev")
    paths = RunPaths(out)
    resume = paths.state.exists()
    if resume and as_given(json.loads(paths.config.read_text())) != as_given(fold_config):
        raise RunError("holds a fold of another configuration", path=out)
    result = train(fold_config, resume=resume, write=write)
    entry = {
        "fold": fold.name,
        "test": list(fold.test),
        "dev": list(fold.dev),
        "best_epoch": result.best_epoch,
        **fold_scores(out),
    }
    write_json_atomic(paths.fold_report, entry)
    return entry


def _summary(config: TrainConfig, results: list, seconds: float, held_out: dict) -> dict:
    """crossval.json's figures over the folds: per-fold mean and pooled UAR, ``held_out``'s
    entries, and the pooled UAR speaker-normalised where every fold has it."""
    tasks = [t for t in config.model.tasks if any(t in r["tasks"] for r in results)]
    summary = {
        "config": to_dict(config),
        "folds": results,
        "fold_mean": {t: float(np.mean([r["tasks"][t]["uar"] for r in results if t in r["tasks"]])) for t in tasks},
        "pooled": {t: pooled_uar(results, t) for t in tasks},
        "train_seconds": round(seconds),
        **held_out,
    }
    if all("speaker_norm" in r for r in results):  # (folds finished by older versions lack it)
        normed = [{"tasks": r["speaker_norm"]} for r in results]
        summary["pooled_speaker_norm"] = {t: pooled_uar(normed, t) for t in tasks}
    return summary


def _held_out(results: list, utterances) -> dict:
    """Leave-one-corpus-out: each held-out corpus scored apart (its own classes, the 4-class common
    UAR), plainly and with each speaker's predictions centred (transductive)."""
    corpus_of, own = {u.path: u.corpus for u in utterances}, corpus_classes(utterances)
    return {
        "held_out": {r["fold"]: r["per_corpus"].get(r["fold"], {}) for r in results},
        "held_out_speaker_norm": {
            r["fold"]: corpus_reports(normalise_predictions(r["predictions"]), corpus_of, own).get(r["fold"], {})
            for r in results},
    }


def format_summary(summary: dict) -> str:
    tasks = list(summary["pooled"])
    lines = [f"{'fold':<10} " + " ".join(f"{t:>10}" for t in tasks)]
    for r in summary["folds"]:
        lines.append(f"{r['fold']:<10} " + " ".join(
            f"{r['tasks'][t]['uar']:>10.1f}" if t in r["tasks"] else f"{'-':>10}" for t in tasks))
    lines.append(f"{'mean':<10} " + " ".join(f"{summary['fold_mean'][t]:>10.1f}" for t in tasks))
    lines.append(f"{'pooled':<10} " + " ".join(f"{summary['pooled'][t]:>10.1f}" for t in tasks))
    if "held_out" in summary:
        from kerasser.evaluate.corpus_scores import format_corpus_reports

        lines.append("each corpus held out, scored on all its clips (emotion over its own classes the "
                     "trained head has):\n" + format_corpus_reports(summary["held_out"]))
        if "held_out_speaker_norm" in summary:
            lines.append("the same, each speaker's predictions centred on the speaker's mean (transductive):\n"
                         + format_corpus_reports(summary["held_out_speaker_norm"]))
    if "pooled_speaker_norm" in summary:
        lines.append("pooled with each test speaker's predictions centred on the speaker's mean (transductive): "
                     + ", ".join(f"{t} {summary['pooled_speaker_norm'][t]:.1f}" for t in tasks))
    return "\n".join(lines)
