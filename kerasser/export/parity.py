"""Parity of an exported format against the Keras model: output differences, argmax agreement,
the float formats' pass bar, and a runner's test UAR (``kerasser.metrics.score``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from kerasser import contract
from kerasser.data.corpora import Utterance
from kerasser.errors import ExportError
from kerasser.metrics import score

Outputs = dict[str, np.ndarray]


def compare(reference: Sequence[Outputs], candidate: Sequence[Outputs], tasks: Sequence[str]) -> dict:
    """Parity figures of ``candidate`` against ``reference`` outputs (one dict per clip)."""
    prob_diff, attention_diff = 0.0, None
    agree = {t: 0 for t in tasks}
    mismatches = []
    for i, (ref, out) in enumerate(zip(reference, candidate, strict=True)):
        if set(ref) != set(out):
            raise ExportError(f"output names differ: expected {sorted(ref)}, got {sorted(out)}")
        for t in tasks:
            prob_diff = max(prob_diff, float(np.max(np.abs(ref[t] - out[t]))))
            if int(np.argmax(ref[t])) == int(np.argmax(out[t])):
                agree[t] += 1
            else:
                mismatches.append({"clip": i, "task": t})
            name = contract.attention_output(t)
            if name in ref:
                same = ref[name].shape == out[name].shape
                d = float(np.max(np.abs(ref[name] - out[name]))) if same else float("inf")
                attention_diff = d if attention_diff is None else max(attention_diff, d)
    n = len(reference)
    return {
        "max_abs_diff": prob_diff,
        "max_abs_diff_attention": attention_diff,
        "argmax_agreement": sum(agree.values()) / (n * len(tasks)),
        "argmax_agreement_per_task": {t: agree[t] / n for t in tasks},
        "argmax_mismatches": mismatches,
    }


def check_float(label: str, figures: dict, tolerance: float, clips: Sequence[Utterance]) -> None:
    """Raise ExportError unless ``figures`` meet the float formats' parity bar."""
    if not figures["max_abs_diff"] <= tolerance:
        raise ExportError(
            f"{label} parity check failed: max absolute probability difference "
            f"{figures['max_abs_diff']:.3g} > {tolerance:g} against the Keras model"
        )
    if figures["argmax_mismatches"]:
        first = figures["argmax_mismatches"][0]
        raise ExportError(
            f"{label} parity check failed: predicted {first['task']} class differs from the Keras model on "
            f"{Path(clips[first['clip']].path).name} ({len(figures['argmax_mismatches'])} clip/task pair(s))"
        )
    attention = figures["max_abs_diff_attention"]
    if attention is not None and not attention <= tolerance:
        raise ExportError(
            f"{label} parity check failed: max absolute attention difference {attention:.3g} > {tolerance:g}"
        )


def run_clips(runner: Callable[..., Outputs], waves: Sequence[np.ndarray], references: Sequence | None = None,
              texts: Sequence | None = None) -> list[Outputs]:
    """``runner``'s outputs on each waveform, given its speaker reference where there is one and
    its ``text`` token ids where there are texts (a text model's)."""
    references = references or [None] * len(waves)
    texts = texts or [None] * len(waves)
    outputs = []
    for w, r, t in zip(waves, references, texts, strict=True):
        extra = {} if t is None else {"text": t}
        outputs.append(runner(w, **extra) if r is None else runner(w, r, **extra))
    return outputs


def score_uar(
    runner: Callable[..., Outputs],
    clips: Sequence[tuple[Utterance, np.ndarray]],
    tasks: Sequence[str],
    references: Sequence | None = None,
    classes: dict[str, tuple[str, ...]] | None = None,
    texts: Sequence | None = None,
) -> dict[str, float]:
    """UAR per task of ``runner`` on labelled ``clips`` (each given its speaker ``references[i]``
    when there are references), scored by ``kerasser.metrics.score`` (the same scoring as
    ``kerasser evaluate``; ``classes``: the heads' classes, ``ModelConfig.classes``; ``texts``: a
    text model's token ids per clip)."""
    if not clips:
        return {}
    outputs = run_clips(runner, [wave for _, wave in clips], references, texts)
    labels = {t: np.array([u.labels.get(t, 0) for u, _ in clips]) for t in tasks}
    weights = {t: np.array([float(t in u.labels) for u, _ in clips]) for t in tasks}
    probs = {t: np.stack([out[t] for out in outputs]) for t in tasks}
    reports = score(labels, probs, weights, classes)
    return {t: reports[t]["uar"] for t in tasks if weights[t].any()}
