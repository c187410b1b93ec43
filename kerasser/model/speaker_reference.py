"""Speaker references for models that normalise their features per speaker (``feature_norm="speaker"``).

A speaker's reference is the mean log mel vector over all valid frames of all of that speaker's
clips in one set of utterances: the training split for the training speakers, the dev split for
the dev speakers, and, when scoring, the scored split (transductive, like
:mod:`kerasser.evaluate.speaker_norm`: it uses the scored speakers' audio, so its figures compare with
PROTOCOL.md's speaker-normalised rows). The model's own layers compute it (the adapted waveform
standardisation and the fixed log mel filterbank), so the reference and the features it is
subtracted from are the same computation. Only speaker identities are needed, never labels.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from kerasser.contract import FRAMES, LOG_MEL_SUM
from kerasser.data.corpora import Utterance, speaker_key
from kerasser.errors import DataError
from kerasser.model.network import LOG_MEL, REFERENCE

BATCH = 16


def uses_reference(model: keras.Model) -> bool:
    """Whether ``model`` takes a speaker ``reference`` input."""
    return REFERENCE in model.input


def statistics_model(model: keras.Model) -> keras.Model:
    """``{"waveform", "length"} -> {"log_mel_sum": [batch, mel_bins], "frames": [batch]}``: each
    clip's log mel summed over its valid frames and the number of valid frames, computed by
    ``model``'s own layers (shares its weights). A speaker's reference is the sum of its clips'
    ``log_mel_sum`` over the sum of their ``frames``."""
    log_mel = keras.ops.cast(model.get_layer(LOG_MEL).output, "float32")
    weight = keras.ops.cast(model.get_layer("frame_padding").output[1], "float32")[..., None]
    return keras.Model(
        {"waveform": model.input["waveform"], "length": model.input["length"]},
        {LOG_MEL_SUM: keras.ops.sum(log_mel * weight, axis=1), FRAMES: keras.ops.sum(weight, axis=(1, 2))},
        name="speaker_statistics",
    )


def clip_statistics(model: keras.Model, examples_ds: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Per example of ``examples_ds`` (unbatched ``(inputs, ...)`` as ``kerasser.data.dataset.decoded``
    yields them, in order): ``statistics_model``'s ``log_mel_sum`` [n, mel_bins] and ``frames`` [n]."""
    features = statistics_model(model)
    sums, counts = [], []
    batches = examples_ds.map(lambda inputs, *rest: {"waveform": inputs["waveform"], "length": inputs["length"]})
    for batch in batches.padded_batch(BATCH):
        out = features(batch, training=False)
        sums.append(np.asarray(out[LOG_MEL_SUM]))
        counts.append(np.asarray(out[FRAMES]))
    if not sums:
        return np.zeros((0, model.input[REFERENCE].shape[-1]), np.float32), np.zeros(0, np.float32)
    return np.concatenate(sums).astype(np.float64), np.concatenate(counts).astype(np.float64)


def _speaker_array(speakers: Sequence[str], sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``speakers`` as an array, one per row of ``sums`` and ``counts`` (ValueError otherwise)."""
    speakers = np.asarray(list(speakers))
    if speakers.shape != (len(sums),) or len(counts) != len(sums):
        raise ValueError(f"{speakers.size} speakers for {len(sums)} clips' sums and {len(counts)} counts")
    return speakers


def speaker_means(speakers: Sequence[str], sums: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Row ``i``: the frame-weighted mean of the rows of ``speakers[i]``'s clips,
    ``sum(sums) / sum(counts)`` over them (float32 [n, features])."""
    speakers = _speaker_array(speakers, sums, counts)
    means = np.zeros(np.shape(sums), np.float32)
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        means[rows] = sums[rows].sum(axis=0) / max(counts[rows].sum(), 1.0)
    return means


def drawn_means(
    speakers: Sequence[str], sums: np.ndarray, counts: np.ndarray, clips: int, rng: np.random.Generator
) -> np.ndarray:
    """As ``speaker_means``, but row ``i`` averages clip ``i`` and ``clips - 1`` other clips of
    its speaker drawn by ``rng`` without replacement (all of them when the speaker has fewer):
    the reference a speaker with ``clips`` clips gets. ``clips=1`` is each clip's own mean."""
    if clips < 1:
        raise ValueError(f"clips must be at least 1, got {clips}")
    speakers = _speaker_array(speakers, sums, counts)
    means = np.zeros(np.shape(sums), np.float32)
    for i, speaker in enumerate(speakers):
        others = np.flatnonzero((speakers == speaker) & (np.arange(len(speakers)) != i))
        rows = np.concatenate([[i], rng.permutation(others)[: clips - 1]]).astype(int)
        means[i] = sums[rows].sum(axis=0) / max(counts[rows].sum(), 1.0)
    return means


def with_references(
    model: keras.Model, utterances: Sequence[Utterance], examples_ds: tf.data.Dataset, failed=(), per_clip: bool = False
) -> tf.data.Dataset:
    """``examples_ds`` (the decoded examples of ``utterances``, in order, without the files named
    in ``failed``) with each example's inputs given its speaker's ``reference`` (with ``per_clip``,
    the clip's own mean log mel: no other clip is used, and the model then normalises each clip
    as the sentence mean normalisation does). Iterates
    ``examples_ds`` once (which fills a ``decoded`` dataset's cache and its DecodeLog: pass the
    log's ``failed`` after that, as a live mapping)."""
    if any(u.record is not None for u in utterances):  # a prepared folder's order is not the list's
        raise DataError("speaker references need the audio files, not a prepared TFRecord folder")
    sums, counts = clip_statistics(model, examples_ds)
    kept = [u for u in utterances if u.path not in failed]
    if len(kept) != len(sums):
        raise ValueError(f"{len(sums)} decoded examples for {len(kept)} utterances")
    references = speaker_means([u.path if per_clip else speaker_key(u) for u in kept], sums, counts)
    return with_given_references(examples_ds, references)


def with_given_references(examples_ds: tf.data.Dataset, references: np.ndarray) -> tf.data.Dataset:
    """``examples_ds`` with example ``i``'s inputs given ``references[i]`` as its ``reference``."""
    ds = tf.data.Dataset.zip((examples_ds, tf.data.Dataset.from_tensor_slices(np.asarray(references, np.float32))))
    return ds.map(lambda example, reference: ({**example[0], REFERENCE: reference}, *example[1:]))
