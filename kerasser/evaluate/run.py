"""Evaluate a run's best model on a split of one or more corpora (its own, or others)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kerasser.data import dataset as data
from kerasser.data.corpora import read_corpora, select, speaker_key
from kerasser.data.examples import DecodeLog, ExampleSettings
from kerasser.data.label_space import corpus_classes
from kerasser.data.transcripts import without_text
from kerasser.errors import DataError, SettingsError
from kerasser.evaluate.corpus_scores import corpus_reports
from kerasser.evaluate.speaker_norm import normalise_by_speaker
from kerasser.metrics import mean_uar, predict, score
from kerasser.model.speaker_reference import uses_reference, with_references
from kerasser.progress import Write, writer
from kerasser.tasks import TASKS, vocabulary_indices
from kerasser.text import cer, normalize
from kerasser.text_input import input_vocabulary
from kerasser.training.runs import RunPaths, load_best_model, load_config, write_json_atomic

REFERENCES = ("speaker", "clip")  # where a speaker-normalising model's references come from


def evaluate_run(
    run_dir: str | os.PathLike,
    split: str = "test",
    corpora: Sequence[tuple[str, str]] | None = None,
    batch_size: int = 16,
    write_report: bool = True,
    write: Write | None = None,
    speaker_norm: bool = False,
    references: str = "speaker",
    text: bool = True,
) -> dict:
    """Score the run's best model on ``split`` of ``corpora`` (default: the corpora it was
    trained on, with its cross-validation fold's speakers if it has one), for the tasks both the
    model and the data have. With ``speaker_norm``, each speaker's predictions are centred on that
    speaker's mean over the scored clips first (:mod:`kerasser.evaluate.speaker_norm`: transductive, it uses
    the scored speakers' audio; the report says ``"speaker_norm": true``). A model that normalises
    its features per speaker (``feature_norm="speaker"``) gets each scored speaker's reference
    from that speaker's scored clips (:mod:`kerasser.model.speaker_reference`: transductive as well),
    or with ``references="clip"`` each clip its own mean (no other clip is used; the report says
    ``"references": "clip"`` and its name ends in ``_clip-references``). A text model
    (``ModelConfig.modality``) reads each clip's transcript; with ``text=False`` it gets none (the
    text-missing condition: the report says ``"text": false`` and its name ends in ``_no-text``).

    Warnings (files that could not be decoded) go through ``write`` (default: stderr).
    Returns the report (also written as ``eval_<corpora>_<split>.json`` in the run folder, with a
    confusion-matrix figure per task, ``eval_<corpora>_<split>_<task>.png``):
    ``{"run", "split", "corpora", "speaker_norm", "files", "skipped", "mean_uar",
    "tasks": {task: report}, "transcript"}`` (written as ``eval_<corpora>_<split>_speaker-norm``
    with ``speaker_norm``); ``transcript`` (models with a CTC head) holds the greedy transcripts' CER in
    % over the utterances with a reference, else None; ``predictions`` each task's per-utterance
    labels, predicted classes and probabilities (``per_utterance``; labels and classes are the head's
    columns, ``ModelConfig.classes``); ``per_corpus`` each corpus scored apart, emotion over its own
    classes and the 4-class common UAR (``kerasser.evaluate.corpus_scores``).
    """
    write = writer(write)
    if references not in REFERENCES:
        raise SettingsError(f"unknown references {references!r}; expected one of {', '.join(REFERENCES)}")
    config = load_config(run_dir)
    own = corpora is None
    corpora = tuple(tuple(c) for c in (corpora or config.corpora))
    utterances = read_corpora(corpora, config.speaker_splits if own else None)
    tasks, chosen = _scored(config, utterances, split)
    model = load_best_model(run_dir)
    log = DecodeLog(write)
    head_classes = {t: config.model.classes(t) for t in tasks}
    vocabulary = input_vocabulary(config.model)
    settings = ExampleSettings(tasks, config.model.audio.sample_rate, text_vocabulary=vocabulary)
    examples = data.decoded(chosen if text else without_text(chosen), settings, log)
    examples, references = _with_references(model, chosen, examples, log, references)
    texts: list[str] = []
    labels, probs, weights = predict(model, data.batched(examples, batch_size, training=False), tasks, texts)
    decoded = [u for u in chosen if u.path not in log.failed]
    if speaker_norm:
        speakers = [speaker_key(u) for u in decoded]
        probs = {task: normalise_by_speaker(p, speakers) for task, p in probs.items()}
    reports = score(labels, probs, weights, classes=head_classes)
    predictions = per_utterance(decoded, labels, probs, weights, head_classes)
    report = {
        "run": str(run_dir),
        "split": split,
        "corpora": [list(c) for c in corpora],
        "speaker_norm": speaker_norm,
        "references": references,
        "text": bool(text and vocabulary is not None),
        "files": len(chosen) - len(log.failed),
        "skipped": log.failed,
        "mean_uar": mean_uar(reports),
        "tasks": reports,
        "transcript": transcript_report(decoded, texts) if texts else None,
        "predictions": predictions,
        "per_corpus": corpus_reports(predictions, {u.path: u.corpus for u in decoded}, corpus_classes(utterances)),
    }
    if write_report:
        name = "+".join(c[0] for c in corpora) + f"_{split}" + ("_speaker-norm" if speaker_norm else "")
        name += ("_clip-references" if references == "clip" else "") + ("" if text else "_no-text")
        _write_report(RunPaths(Path(run_dir)), name, report)
    if log.failed:
        write(f"warning: {len(log.failed)} file(s) skipped")
    return report


def split_predictions(run_dir: str | os.PathLike, tasks: Sequence[str], splits: Sequence[str] = ("dev", "test"),
                      model=None, batch_size: int = 16) -> dict[str, tuple[dict, dict]]:
    """``{split: (labels, probabilities)}``, each ``{task: array}``, of a run's best model (or
    ``model``) on the given splits of its own first corpus, the utterances labelled for every task
    of ``tasks`` (the benchmarks that re-read a run's heads use this)."""
    config = load_config(run_dir)
    model = model if model is not None else load_best_model(run_dir)
    utterances = read_corpora(config.corpora[:1], config.speaker_splits)
    found = {}
    for split in splits:
        settings = ExampleSettings(tasks, config.model.audio.sample_rate, text_vocabulary=input_vocabulary(config.model))
        examples = data.decoded(select(utterances, split, tasks), settings, DecodeLog(None))
        labels, probs, _ = predict(model, data.batched(examples, batch_size, training=False), tasks)
        found[split] = (labels, probs)
    return found


def _scored(config, utterances, split: str):
    """``(tasks, utterances)`` to score: the model's tasks the data labels, the split's utterances
    labelled for one of them (an error where there are none)."""
    tasks = tuple(t for t in config.model.tasks if any(t in u.labels for u in utterances))
    if not tasks:
        raise DataError(
            f"the data has no labels for the model's tasks ({', '.join(config.model.tasks)})"
        )
    chosen = select(utterances, split, tasks)
    if not chosen:
        raise DataError(f"no {split} utterances with labels for {', '.join(tasks)} in the given corpora")
    return tasks, chosen


def _with_references(model, chosen, examples, log: DecodeLog, references: str):
    """``(examples, references)``: each scored speaker's reference over the scored clips
    (transductive), or each clip its own (``"clip"``); None for a model that takes none."""
    if not uses_reference(model):
        return examples, None
    per_clip = references != "speaker"
    return with_references(model, chosen, examples, log.failed, per_clip=per_clip), references


def _write_report(paths: RunPaths, name: str, report: dict) -> None:
    """``eval_<name>.json`` and a confusion figure per scored task in the run folder."""
    from kerasser.figures import confusion_figure

    write_json_atomic(paths.eval_report(name), report)
    for task, task_report in report["tasks"].items():
        if task_report["count"]:
            confusion_figure(task, task_report, paths.confusion_figure(name, task),
                             f"{task}, {name.replace('_', ' ')}: UAR {task_report['uar']:.1f} % "
                             f"over {task_report['count']} utterances")


def per_utterance(utterances, labels, probs, weights, classes=None) -> dict:
    """Per task, the labelled utterances' paths, speakers, labels and predicted classes
    (vocabulary indices), and class probabilities (rounded to 6 decimals) over the head's
    ``classes`` (``{task: names}``; stored where they differ from the vocabulary): what
    ``kerasser.evaluate.significance`` compares between runs, and what ``kerasser.evaluate.crossval.averaged_fold``
    averages over runs without their models."""
    found = {}
    for task in labels:
        keep = np.flatnonzero(weights[task] > 0)
        head = (classes or {}).get(task)
        predicted = vocabulary_indices(task, np.argmax(probs[task], axis=-1), head) if len(probs[task]) else []
        found[task] = {
            "paths": [utterances[i].path for i in keep],
            "speakers": [speaker_key(utterances[i]) for i in keep],
            "labels": [int(labels[task][i]) for i in keep],
            "predicted": [int(predicted[i]) for i in keep],
            "probabilities": [[round(float(p), 6) for p in probs[task][i]] for i in keep],
        }
        if head is not None and tuple(head) != TASKS[task].classes:
            found[task]["classes"] = list(head)
    return found


def transcript_report(utterances, texts: list[str]) -> dict:
    """CER of the greedy CTC transcripts ``texts`` (one per utterance, in order) over the
    utterances that have a reference transcript, with a few examples."""
    pairs = [(u, t) for u, t in zip(utterances, texts, strict=True) if u.transcript]
    refs, hyps = [u.transcript for u, _ in pairs], [t for _, t in pairs]
    return {
        "utterances": len(pairs),
        "cer": cer(refs, hyps) if pairs else None,
        "examples": [{"path": u.path, "reference": normalize(u.transcript), "hypothesis": t} for u, t in pairs[:5]],
    }
