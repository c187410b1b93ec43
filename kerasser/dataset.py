"""tf.data input pipeline: decode once, cache, shuffle, bucket by length, prefetch.

Every element is ``(inputs, labels, weights)``:
  inputs  ``{"waveform": [n] float32, "length": [] int32}`` (16 kHz mono, the model's input);
  labels  ``{task: [] int32}`` class index, 0 where the utterance has no label for the task;
  weights ``{task: [] float32}`` 1 where labelled, 0 where not (the task's loss is masked).
Batches pad ``waveform`` with zeros; ``length`` tells the model where each row ends.

Files that cannot be decoded are skipped with one line on stderr naming the file and the reason
(a broken file must not stop a training run); ``DecodeLog`` counts them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from kerasser import audio
from kerasser.corpora import Utterance

# Length buckets, in seconds: batches hold utterances of similar length, so little is padding.
BUCKET_SECONDS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 8.0)


class DecodeLog:
    """Remembers which files failed to decode (each reported once on stderr)."""

    def __init__(self) -> None:
        self.failed: dict[str, str] = {}

    def report(self, error: audio.AudioError) -> None:
        if error.path not in self.failed:
            self.failed[error.path] = error.reason
            print(f"warning: skipped {error}", file=sys.stderr)


def element_spec(tasks: Sequence[str]):
    inputs = {
        "waveform": tf.TensorSpec([None], tf.float32),
        "length": tf.TensorSpec([], tf.int32),
    }
    labels = {t: tf.TensorSpec([], tf.int32) for t in tasks}
    weights = {t: tf.TensorSpec([], tf.float32) for t in tasks}
    return inputs, labels, weights


def examples(utterances: Sequence[Utterance], tasks: Sequence[str], log: DecodeLog | None = None):
    """Yield decoded ``(inputs, labels, weights)`` as NumPy values, skipping undecodable files."""
    log = log or DecodeLog()
    for utt in utterances:
        try:
            wave = audio.load(utt.path)
        except audio.AudioError as error:
            log.report(error)
            continue
        labels = {t: np.int32(utt.labels.get(t, 0)) for t in tasks}
        weights = {t: np.float32(t in utt.labels) for t in tasks}
        yield {"waveform": wave, "length": np.int32(len(wave))}, labels, weights


def decoded(
    utterances: Sequence[Utterance], tasks: Sequence[str], log: DecodeLog | None = None
) -> tf.data.Dataset:
    """Unbatched examples, decoded on the first full pass and cached in memory after it."""
    if not utterances:
        raise ValueError("no utterances to make a dataset of")
    tasks = tuple(tasks)
    return tf.data.Dataset.from_generator(
        lambda: examples(utterances, tasks, log), output_signature=element_spec(tasks)
    ).cache()


def batched(
    examples_ds: tf.data.Dataset, batch_size: int, *, training: bool, seed: int = 0
) -> tf.data.Dataset:
    """Batches of ``decoded`` examples. For training: shuffled (seeded, reshuffled every epoch)
    and grouped by length bucket; for evaluation: in order, padded per batch."""
    ds = examples_ds
    if training:
        ds = ds.shuffle(4096, seed=seed, reshuffle_each_iteration=True)
        boundaries = [int(s * audio.SAMPLE_RATE) for s in BUCKET_SECONDS]
        ds = ds.bucket_by_sequence_length(
            lambda inputs, labels, weights: inputs["length"],
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        )
    else:
        ds = ds.padded_batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)


def make_dataset(
    utterances: Sequence[Utterance],
    tasks: Sequence[str],
    batch_size: int,
    *,
    training: bool,
    seed: int = 0,
    log: DecodeLog | None = None,
) -> tf.data.Dataset:
    """``batched(decoded(...))`` in one call."""
    return batched(decoded(utterances, tasks, log), batch_size, training=training, seed=seed)


def waveforms(examples_ds: tf.data.Dataset) -> tf.data.Dataset:
    """Each utterance's samples as a [1, n] batch (no padding counted): what
    ``Normalization.adapt`` needs to compute training-set statistics. Iterating it fully also
    fills the ``decoded`` cache."""
    return examples_ds.map(lambda inputs, labels, weights: inputs["waveform"][None, :])
