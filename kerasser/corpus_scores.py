"""Scores per corpus, as PROTOCOL.md's "Several corpora together" asks: each corpus separately
(never one pooled figure only), emotion over the corpus' own classes, and the 4-class common UAR.

- ``emotion``: UAR over the classes the corpus labels that the model's head has, the prediction
  being the most probable of those (``kerasser.label_space.restrict``): a model trained on EmoDB
  and RAVDESS is not marked wrong on an EmoDB clip for "calm", which EmoDB cannot express.
- ``emotion_common``: the 4-class balanced UAR over ``tasks.COMMON_EMOTIONS`` (anger, happiness,
  sadness, neutral): the clips of those classes, the prediction the most probable of the four
  (EmoBox's cross-corpus comparison).
- every other task: UAR of the head's most probable class, over the clips labelled for it.

Input: the per-utterance predictions of ``kerasser.run_evaluation.per_utterance`` and each
scored utterance's corpus.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from kerasser.evaluation import uar
from kerasser.label_space import restrict
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
