"""tf.data input pipeline: decode once, cache, shuffle, augment, bucket by length, prefetch.

Every element is ``(inputs, labels, weights)``:
  inputs  ``{"waveform": [n] float32, "length": [] int32}`` (mono at the model's sample rate,
          ``ModelConfig.audio.sample_rate``: the model's input), and for text models ``"text":
          [tokens] int32`` (the transcript's token ids, ``kerasser.text_input``; padded with 0);
  labels  ``{task: [] int32}`` class index, 0 where the utterance has no label for the task
          (with distillation targets: ``{task: [classes] float32}``, a distribution);
  weights ``{task: [] float32}`` 0 where the utterance has no label (the task's loss is masked),
          else 1, or the class's balancing weight (``class_weights``).
Batches pad ``waveform`` with zeros; ``length`` tells the model where each row ends. Training
batches can be augmented (``kerasser.data.augment``) after the cache, with a seed per example drawn
from the run's seed and the epoch, so every epoch sees new copies and a run repeats exactly,
resumed or not (``batched``'s ``epoch``).

Files that cannot be decoded, or that last longer than ``kerasser.data.examples.MAX_SECONDS``, are
skipped with one line on stderr naming the file and the reason (a broken file must not stop a
training run); ``kerasser.data.examples.DecodeLog`` counts them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from kerasser.data import audio, records
from kerasser.data.augment import AugmentConfig, augment
from kerasser.data.corpora import Utterance, speaker_key, speakers
from kerasser.data.examples import DecodeLog, ExampleSettings, examples
from kerasser.data.label_space import EMOTION_TASK, LabelSpace
from kerasser.data.mixup import mixed
from kerasser.errors import DataError
from kerasser.tasks import TASKS, TRANSCRIPT_TARGET
from kerasser.text_input import TEXT_INPUT

# Training order is shuffled within blocks of this many examples (the whole of EmoDB or BAVED).
SHUFFLE_BLOCK = 4096

# Length buckets, in seconds: batches hold utterances of similar length, so little is padding.
BUCKET_SECONDS = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 8.0)


def element_spec(targets: Sequence[str], soft: bool = False, space: LabelSpace | None = None, text: bool = False):
    """The spec of one example; with ``soft`` the task labels are class distributions; with a
    masked ``space`` the emotion label is ``[target, class mask]`` (``LabelSpace.target``); with
    ``text`` the inputs have the ``text`` token ids."""
    inputs = {
        "waveform": tf.TensorSpec([None], tf.float32),
        "length": tf.TensorSpec([], tf.int32),
    }
    if text:
        inputs[TEXT_INPUT] = tf.TensorSpec([None], tf.int32)

    def label_spec(t):
        if t == TRANSCRIPT_TARGET:
            return tf.TensorSpec([None], tf.int32)
        if t not in TASKS:  # the speaker adversary's target
            return tf.TensorSpec([], tf.int32)
        classes = len(space.classes(t)) if space is not None else TASKS[t].num_classes
        if space is not None and space.masked and t == EMOTION_TASK:
            return tf.TensorSpec([2 * classes], tf.float32)
        if soft and t in TASKS:
            return tf.TensorSpec([classes], tf.float32)
        return tf.TensorSpec([], tf.int32)

    labels = {t: label_spec(t) for t in targets}
    weights = {t: tf.TensorSpec([], tf.float32) for t in targets}
    return inputs, labels, weights


def speaker_indices(utterances: Sequence[Utterance]) -> dict[str, int]:
    """``speaker_key`` -> class index of the speaker-adversarial head (sorted speakers)."""
    return {s: i for i, s in enumerate(speakers(utterances))}


def adversary_indices(utterances: Sequence[Utterance], adversary: str = "speaker") -> dict[str, int]:
    """``speaker_key`` -> the class the adversary's head (``ModelConfig.adversary``) gives that
    speaker: the speaker's own (``speaker_indices``), or the index of its corpus (sorted corpora)
    for ``"corpus"``."""
    if adversary == "speaker":
        return speaker_indices(utterances)
    corpora = sorted({u.corpus for u in utterances})
    return {speaker_key(u): corpora.index(u.corpus) for u in utterances}


def class_weights(utterances: Sequence[Utterance], tasks: Sequence[str]) -> dict[str, np.ndarray]:
    """Per task, a weight per class (by vocabulary index): ``n / (k * n_c)`` over the ``k`` classes
    present (``n_c`` examples each; 0 for absent classes), so every class carries the same total
    weight and the mean weight over the examples is 1. UAR treats classes equally; so does this loss."""
    weights = {}
    for t in tasks:
        counts = np.bincount([u.labels[t] for u in utterances if t in u.labels], minlength=TASKS[t].num_classes)
        present = counts > 0
        w = np.zeros(len(counts), np.float32)
        w[present] = counts.sum() / (present.sum() * counts[present])
        weights[t] = w
    return weights


def corpus_weights(utterances: Sequence[Utterance], tasks: Sequence[str], by_class: bool) -> dict[str, dict]:
    """Per task and corpus, a weight per class (by vocabulary index) that gives each of the ``K``
    corpora labelled for the task the same total weight, ``n / K`` (a corpus with more clips does
    not drown the others), shared equally by its classes with ``by_class`` (``class_weights``
    within the corpus) or by its clips without. The mean weight over the examples is 1.
    ``{task: {corpus: [classes]}}``, what ``targets`` looks up by the utterance's corpus."""
    weights: dict[str, dict] = {}
    for t in tasks:
        labelled = [u for u in utterances if t in u.labels]
        corpora = sorted({u.corpus for u in labelled})
        weights[t] = {}
        for corpus in corpora:
            own = [u for u in labelled if u.corpus == corpus]
            share = len(labelled) / (len(corpora) * len(own))
            inner = class_weights(own, [t])[t] if by_class else np.ones(TASKS[t].num_classes, np.float32)
            weights[t][corpus] = (share * inner).astype(np.float32)
    return weights


def decoded(
    utterances: Sequence[Utterance], settings: ExampleSettings, log: DecodeLog | None = None, training: bool = False
) -> tf.data.Dataset:
    """Unbatched examples (``kerasser.data.examples.examples``), decoded on the first full pass and
    cached in memory after it. Utterances of a prepared TFRecord folder (``kerasser prepare``) are
    read from its shards instead (``kerasser.data.records.decoded``: not cached; in the folder's
    order, or with ``training`` interleaved over its shards)."""
    if not utterances:
        raise DataError("no utterances to make a dataset of")
    prepared = sum(u.record is not None for u in utterances)
    if prepared:
        if prepared < len(utterances):
            raise DataError("a dataset cannot mix utterances of a prepared TFRecord folder with audio files")
        if settings.soft_targets is not None:
            raise DataError("distillation targets need the audio files, not a prepared TFRecord folder")
        return records.decoded(utterances, settings, interleave=training)
    return tf.data.Dataset.from_generator(
        lambda: examples(utterances, settings, log),
        output_signature=element_spec(settings.target_names, soft=settings.soft_targets is not None,
                                      space=settings.space, text=settings.text_vocabulary is not None),
    ).cache()


def augmented(
    examples_ds: tf.data.Dataset, config: AugmentConfig, seed, sample_rate: int = audio.SAMPLE_RATE
) -> tf.data.Dataset:
    """``examples_ds`` with every waveform replaced by ``augment(waveform, config, s)``, ``s``
    drawn per example from ``seed``: an int gives a stream new on every pass (epoch); an int64
    tensor (a pass's seed, inside a dataset function) gives stateless draws from (seed, index)."""
    if isinstance(seed, int):
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    else:  # Dataset.random takes no tensor seed once a global seed is set
        seeds = tf.data.Dataset.counter().map(
            lambda i: tf.random.stateless_uniform([], seed=tf.stack([seed, i]), minval=None, maxval=None, dtype=tf.int64)
        )

    def apply(example, example_seed):
        inputs, *rest = example  # (inputs, labels, weights), and whatever else rides along
        wave = tf.numpy_function(
            lambda w, s: augment(w, config, int(s) & 0x7FFFFFFFFFFFFFFF, sample_rate),
            [inputs["waveform"], example_seed],
            tf.float32,
            stateful=False,
        )
        wave.set_shape([None])
        return ({**inputs, "waveform": wave, "length": tf.shape(wave)[0]}, *rest)

    return tf.data.Dataset.zip((examples_ds, seeds)).map(
        apply, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )


def epoch_seed(seed: int, epoch) -> tf.Tensor:
    """The seed of epoch ``epoch`` (an int or a scalar tensor) of a run seeded ``seed``: distinct
    for every (seed, epoch) pair a run can have, and the same in every process."""
    return tf.constant(seed, tf.int64) * 1_000_003 + tf.cast(epoch, tf.int64)


def shuffled(examples_ds: tf.data.Dataset, pass_seed, block: int = SHUFFLE_BLOCK) -> tf.data.Dataset:
    """``examples_ds`` in an order drawn from ``pass_seed`` (an int64 scalar tensor) alone: blocks
    of ``block`` consecutive examples, each permuted by stateless random keys (``Dataset.shuffle``
    takes no tensor seed inside a dataset function, so it cannot follow the epoch)."""

    def permute(index, example):
        n = tf.shape(example[0]["length"])[0]
        keys = tf.random.stateless_uniform([n], seed=tf.stack([tf.cast(pass_seed, tf.int64), index]))
        order = tf.argsort(keys)
        return tf.nest.map_structure(lambda t: tf.gather(t, order), example)

    def dense(*example):  # rows of a ragged batch come back ragged: make them plain tensors again
        return tf.nest.map_structure(lambda t: t.to_tensor() if isinstance(t, tf.RaggedTensor) else t, example)

    return examples_ds.ragged_batch(block).enumerate().map(permute).unbatch().map(dense)


def batched(
    examples_ds: tf.data.Dataset,
    batch_size: int,
    *,
    training: bool,
    seed: int = 0,
    augment_config: AugmentConfig | None = None,
    sample_rate: int = audio.SAMPLE_RATE,
    epoch: tf.Variable | None = None,
    emotion_classes: tuple[str, ...] | None = None,
) -> tf.data.Dataset:
    """Batches of ``decoded`` examples (``emotion_classes``: the model's emotion head, which mixup's
    targets cover; ``ModelConfig``'s default when None). For training: shuffled, augmented when ``augment_config``
    has anything on, grouped by length bucket, and mixed (``kerasser.data.mixup``) when its
    ``mixup_alpha`` is set; for evaluation: in order, padded per batch.

    Training randomness (order and augmentation) is seeded. Without ``epoch`` every pass draws
    anew from ``seed`` (a run repeats exactly when it runs start to end in one process). With
    ``epoch`` (an int64 variable the training loop sets before each epoch), each pass is drawn from
    ``epoch_seed(seed, epoch)`` alone, so epoch ``e`` is the same in a run resumed from a
    checkpoint as in one that never stopped."""
    if not training:
        return examples_ds.padded_batch(batch_size).prefetch(tf.data.AUTOTUNE)
    boundaries = [int(s * sample_rate) for s in BUCKET_SECONDS]
    augmenting = augment_config is not None and augment_config.active

    def one_pass(pass_seed, reshuffle: bool) -> tf.data.Dataset:
        if reshuffle:
            ds = examples_ds.shuffle(SHUFFLE_BLOCK, seed=pass_seed, reshuffle_each_iteration=True)
        else:
            ds = shuffled(examples_ds, pass_seed)
        # Buckets by the length before augmentation: every pass then has the same number of
        # batches. Keras takes the first epoch's count for every later epoch and drops the
        # batches past it, and speed perturbation moves examples between buckets.
        ds = ds.map(lambda inputs, labels, weights: (inputs, labels, weights, inputs["length"]))
        if augmenting:
            ds = augmented(ds, augment_config, pass_seed, sample_rate)
        ds = ds.bucket_by_sequence_length(
            lambda inputs, labels, weights, length: length,
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        )
        ds = ds.map(lambda inputs, labels, weights, length: (inputs, labels, weights))
        if augment_config is not None and augment_config.mixup_alpha:
            ds = mixed(ds, augment_config.mixup_alpha, pass_seed, *([emotion_classes] if emotion_classes else []))
        return ds

    if epoch is None:
        ds = one_pass(seed, reshuffle=True)
    else:  # the flat_map function runs when a pass begins, and reads the epoch set for it
        ds = tf.data.Dataset.from_tensors(0).flat_map(lambda _: one_pass(epoch_seed(seed, epoch), reshuffle=False))
    return ds.prefetch(tf.data.AUTOTUNE)


def make_dataset(
    utterances: Sequence[Utterance],
    tasks: Sequence[str],
    batch_size: int,
    *,
    training: bool,
    seed: int = 0,
    log: DecodeLog | None = None,
    sample_rate: int = audio.SAMPLE_RATE,
) -> tf.data.Dataset:
    """``batched(decoded(...))`` in one call (no augmentation, no class weights)."""
    return batched(
        decoded(utterances, ExampleSettings(tuple(tasks), sample_rate), log), batch_size, training=training, seed=seed,
        sample_rate=sample_rate,
    )


def waveforms(examples_ds: tf.data.Dataset) -> tf.data.Dataset:
    """Each utterance's samples as a [1, n] batch (no padding counted): what
    ``Normalization.adapt`` needs to compute training-set statistics. Iterating it fully also
    fills the ``decoded`` cache."""
    return examples_ds.map(lambda inputs, *rest: inputs["waveform"][None, :])
