"""Mixup of training batches (Zhang et al., ICLR 2018): each utterance is mixed with another of
its batch, and its targets with the other's.

For example i of a batch and its partner j (a random permutation of the batch),
``lam_i ~ Beta(alpha, alpha)``, folded to ``max(lam_i, 1 - lam_i)`` so that i stays the larger
part (its length and its speaker dominate):

  waveform  ``lam_i * x_i + (1 - lam_i) * x_j`` (zero-padded to the longer; length the longer);
  weight    ``lam_i * w_i + (1 - lam_i) * w_j`` per task (a missing label has weight 0);
  target    ``(lam_i * w_i * y_i + (1 - lam_i) * w_j * y_j) / weight`` as a class distribution.

Cross-entropy is linear in its target, so ``weight * CE(p, target)`` equals
``lam_i * w_i * CE(p, y_i) + (1 - lam_i) * w_j * CE(p, y_j)``: the mixup loss with class
weights and missing labels kept exact. Labels may be class indices or distributions
(distillation targets). Every draw is stateless, from (the pass's seed, the batch's index), so
a run repeats exactly, resumed or not. Targets other than the tasks' (a speaker adversary's
speaker, a transcript) stay example i's, with its weight: i is the larger part, and j is mixed in
at the smaller weight, like background speech. The three draws of batch k are seeded (pass seed,
3k + c), (pass seed, 3k + c + 1) and (pass seed, 3k + c + 2), c a constant: no two batches of a
pass share a seed.
"""

from __future__ import annotations

import tensorflow as tf

from kerasser.tasks import EMODB_EMOTIONS, EMOTION, TASKS
from kerasser.text_input import TEXT_INPUT

TINY = 1e-12


def mix_weights(alpha: float, batch: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """``batch`` draws of Beta(``alpha``, ``alpha``), each folded into [0.5, 1]; ``seed`` [2] int."""
    shape = tf.reshape(batch, [1])
    a = tf.random.stateless_gamma(shape, seed=seed, alpha=alpha)
    b = tf.random.stateless_gamma(shape, seed=seed + [0, 1], alpha=alpha)
    lam = a / tf.maximum(a + b, TINY)
    return tf.maximum(lam, 1.0 - lam)


def partners(batch: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """A random permutation of ``range(batch)``: each example's partner."""
    return tf.argsort(tf.random.stateless_uniform(tf.reshape(batch, [1]), seed=seed + [0, 2]))


def head_width(task: str, emotion_classes: tuple[str, ...]) -> int:
    """The classes of ``task``'s head: a model's emotion head has its own (``ModelConfig.emotion_classes``)."""
    return len(emotion_classes) if task == EMOTION.name else TASKS[task].num_classes


def mix_batch(inputs: dict, labels: dict, weights: dict, lam: tf.Tensor, order: tf.Tensor,
              emotion_classes: tuple[str, ...] = EMODB_EMOTIONS):
    """One batch mixed with itself reordered by ``order``, ``lam`` [batch] the own part.
    Returns ``(inputs, labels, weights)``; the task labels become distributions [batch, classes]
    (class indices are made one-hot over the head's classes, ``emotion_classes`` for emotion),
    other targets are left as they are. A text model's ``text`` input is not mixed: each clip
    gets the transcript of its larger part (``lam >= 0.5``: its own). Masked emotion targets (``[target, class mask]``,
    ``kerasser.data.label_space``) are mixed the same way: the mask of a mixed clip is non-zero
    wherever either part's is."""
    wave, length = inputs["waveform"], inputs["length"]
    lam_wave = lam[:, None]
    mixed_inputs = {
        **inputs,
        "waveform": lam_wave * wave + (1.0 - lam_wave) * tf.gather(wave, order),
        "length": tf.maximum(length, tf.gather(length, order)),
    }
    if TEXT_INPUT in inputs:  # a transcript is not mixed: each clip reads its larger part's
        text = inputs[TEXT_INPUT]
        mixed_inputs[TEXT_INPUT] = tf.where(lam[:, None] >= 0.5, text, tf.gather(text, order))
    mixed_labels, mixed_weights = dict(labels), dict(weights)
    for task, y in labels.items():
        if task not in TASKS:
            continue  # a speaker or a transcript: the larger part's
        if y.shape.rank == 1:
            y = tf.one_hot(y, head_width(task, emotion_classes))
        y = tf.cast(y, tf.float32)
        own = lam * tf.cast(weights[task], tf.float32)
        other = (1.0 - lam) * tf.gather(tf.cast(weights[task], tf.float32), order)
        weight = own + other
        mixed_labels[task] = (own[:, None] * y + other[:, None] * tf.gather(y, order)) / tf.maximum(weight, TINY)[:, None]
        mixed_weights[task] = weight
    return mixed_inputs, mixed_labels, mixed_weights


def mixed(batches: tf.data.Dataset, alpha: float, pass_seed,
          emotion_classes: tuple[str, ...] = EMODB_EMOTIONS) -> tf.data.Dataset:
    """``batches`` of ``(inputs, labels, weights)``, every batch mixed (``mix_batch``) with draws
    from (``pass_seed``, the batch's index)."""
    pass_seed = tf.cast(pass_seed, tf.int64)

    def apply(index, example):
        inputs, labels, weights = example
        seed = tf.stack([pass_seed, index * 3 + 1_000_000_007])  # + [0, 1] and + [0, 2] below
        batch = tf.shape(inputs["length"])[0]
        return mix_batch(inputs, labels, weights, mix_weights(alpha, batch, seed), partners(batch, seed),
                         emotion_classes)

    return batches.enumerate().map(apply, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
