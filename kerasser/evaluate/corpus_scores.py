"""Scores per corpus, as PROTOCOL.md's "Several corpora together" asks: each corpus separately
(never one pooled figure only), emotion over the corpus' own classes, and the 4-class common UAR.

- ``emotion``: UAR over the classes the corpus labels that the model's head has, the prediction
  being the most probable of those (``kerasser.data.label_space.restrict``): a model trained on EmoDB
  and RAVDESS is not marked wrong on an EmoDB clip for "calm", which EmoDB cannot express.
- ``emotion_common``: the 4-class balanced UAR over ``tasks.COMMON_EMOTIONS`` (anger, happiness,
  sadness, neutral): the clips of those classes, the prediction the most probable of the four
  (EmoBox's cross-corpus comparison).
- every other task: UAR of the head's most probable class, over the clips labelled for it.

Input: the per-utterance predictions of ``kerasser.evaluate.run.per_utterance`` and each
scored utterance's corpus.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from kerasser.data.label_space import restrict
from kerasser.metrics import uar
from kerasser.tasks import COMMON_EMOTIONS, EMOTION, TASKS

COMMON = "emotion_common"


def corpus_reports(
    predictions: Mapping[str, dict],
    corpus_of: Mapping[str, str],
    own_classes: Mapping[str, Sequence[str]],
) -> dict[str, dict[str, float]]:
    """``{corpus: {"files": n, task: UAR, ..., "emotion_common": UAR}}`` over the utterances of
    ``predictions`` (``run_evaluation.per_utterance``: vocabulary labels, probabilities over the
    head's ``classes``), grouped by ``corpus_of[path]``; ``own_classes[corpus]`` are the emotion
    classes that corpus labels."""
    reports: dict[str, dict[str, float]] = {}
    for task, kept in predictions.items():
        vocabulary = TASKS[task].classes
        head = list(kept.get("classes", vocabulary))
        truth = np.asarray([vocabulary[i] for i in kept["labels"]], dtype=object)
        probs = np.asarray(kept["probabilities"], np.float64)
        corpora = np.asarray([corpus_of[p] for p in kept["paths"]])
        for corpus in sorted(set(corpora.tolist())):
            rows = corpora == corpus
            entry = reports.setdefault(corpus, {"files": 0})
            entry["files"] = max(entry["files"], int(rows.sum()))
            if task != EMOTION.name:
                entry[task] = uar(truth[rows], np.asarray(head, dtype=object)[np.argmax(probs[rows], axis=1)])
                continue
            allowed = [c for c in own_classes.get(corpus, head) if c in head]
            if allowed:
                entry[task] = uar(truth[rows], np.asarray(head, dtype=object)[restrict(probs[rows], head, allowed)])
            common = [c for c in COMMON_EMOTIONS if c in head]
            common_rows = rows & np.isin(truth, common)
            if common_rows.any():
                predicted = np.asarray(head, dtype=object)[restrict(probs[common_rows], head, common)]
                entry[COMMON] = uar(truth[common_rows], predicted)
    return reports


def format_corpus_reports(reports: Mapping[str, Mapping[str, float]]) -> str:
    """One line per corpus: its clips and each score (UAR in %)."""
    lines = []
    for corpus, entry in reports.items():
        scores = ", ".join(f"{'emotion (4-class common)' if k == COMMON else k} {v:.1f}"
                           for k, v in entry.items() if k != "files")
        lines.append(f"{corpus} ({entry['files']} clips): {scores}")
    return "\n".join(lines)


def held_out_summary(reports: Sequence[Mapping]) -> dict:
    """Leave-one-corpus-out figures over several cross-validations (``crossval.json`` documents of
    ``kerasser crossval --folds corpus``, e.g. one per seed): ``{"runs": n, "held_out": {corpus:
    {score: {"mean", "sd", "n"}}}}``, plain and, where every run has them, speaker-centred
    (``held_out_speaker_norm``). ValueError when a document is not a leave-one-corpus-out one."""
    if not reports:
        raise ValueError("no leave-one-corpus-out report given")
    summary: dict = {"runs": len(reports)}
    for key in ("held_out", "held_out_speaker_norm"):
        if not all(key in r for r in reports):
            if key == "held_out":
                raise ValueError("not a leave-one-corpus-out report (crossval --folds corpus): no held_out scores")
            continue
        corpora = list(dict.fromkeys(c for r in reports for c in r[key]))
        summary[key] = {}
        for corpus in corpora:
            entries = [r[key][corpus] for r in reports if corpus in r[key]]
            scores = list(dict.fromkeys(k for e in entries for k in e if k != "files"))
            summary[key][corpus] = {"files": max(e.get("files", 0) for e in entries)}
            for score in scores:
                values = [float(e[score]) for e in entries if score in e]
                summary[key][corpus][score] = {"mean": float(np.mean(values)), "sd": float(np.std(values)),
                                               "n": len(values)}
    return summary
