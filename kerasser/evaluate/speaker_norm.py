"""Speaker-level normalisation of a model's predictions: a transductive option for scoring.

A recogniser's outputs shift with the speaker (voice, microphone, speaking habits): all clips of a
loud speaker lean towards high arousal. Given several clips of each speaker (no labels needed),
:func:`normalise_by_speaker` removes each speaker's mean log-probability per class, so each
speaker's clips are judged against that speaker's own average, as PROTOCOL.md's "speaker-norm"
openSMILE baselines standardise their features per speaker.

It uses the scored speakers' own audio (all of their clips in the scored split), so its figures
compare with PROTOCOL.md's speaker-norm rows, not with the plain ones, and it assumes each speaker's
clips span the classes (a speaker heard in one emotion only is pulled towards the others).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import softmax

# log-probabilities are floored here so a probability of exactly 0 stays finite
_FLOOR = 1e-12


def normalise_by_speaker(probs: np.ndarray, speakers: Sequence[str], min_clips: int = 2) -> np.ndarray:
    """``probs`` (clips x classes, rows summing to 1) with each speaker's mean log-probability
    per class subtracted, renormalised to probabilities (a softmax of the centred log-probabilities).

    ``speakers[i]`` names clip ``i``'s speaker. A speaker with fewer than ``min_clips`` clips keeps
    its probabilities (one clip has no reference to compare it with)."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"probs must be clips x classes, got shape {probs.shape}")
    speakers = np.asarray(list(speakers))
    if speakers.shape != (probs.shape[0],):
        raise ValueError(f"{speakers.size} speaker names for {probs.shape[0]} clips")
    if min_clips < 1:
        raise ValueError(f"min_clips must be at least 1, not {min_clips}")
    logp = np.log(np.maximum(probs, _FLOOR))
    centred = logp.copy()
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        if rows.sum() >= min_clips:
            centred[rows] = logp[rows] - logp[rows].mean(axis=0)
    return softmax(centred, axis=1)


def normalise_predictions(predictions: dict) -> dict:
    """Per-utterance predictions (``kerasser.evaluate.run.per_utterance``: per task ``paths``,
    ``speakers``, ``probabilities`` ...) with each task's probabilities normalised by speaker
    (:func:`normalise_by_speaker`) and ``predicted`` dropped (it named the raw argmax)."""
    normalised = {}
    for task, kept in predictions.items():
        probs = np.asarray(kept["probabilities"], np.float64)
        centred = normalise_by_speaker(probs, kept["speakers"]) if len(probs) else probs
        normalised[task] = {**{k: v for k, v in kept.items() if k != "predicted"},
                            "probabilities": centred.tolist()}
    return normalised
