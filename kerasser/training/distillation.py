"""Knowledge distillation: a single model trained towards the averaged predictions of several.

An ensemble of seeds (``kerasser ensemble``) is more accurate than any one member but costs the
members' inference time added up. Distillation (Hinton et al., 2015) keeps one model's cost: the
teachers (trained runs, e.g. seeds of one recipe) label each training utterance once, before
training, with their mean class probabilities on the clean waveform; the student then learns from

    target = (1 - w) * one_hot(label) + w * teacher,    teacher = normalise(mean_probs ** (1 / T))

per task (``TrainConfig.distill_weight`` w, ``distill_temperature`` T: T > 1 softens the teacher
as dividing its logits by T would), smoothed like any target (``SparseCrossentropy``). The
augmented copies of an utterance keep its clean targets. Every teacher must predict every task
of the student; a task an utterance has no label for keeps sample weight 0.

Teachers that trained on the very utterances they label are nearly always right and confident
there, which leaves little to learn beyond the labels. Teachers trained on speaker-grouped folds
of the training speakers (each leaving some out) instead give out-of-fold targets: each
utterance is labelled only by the teachers that never heard its speaker, as they would label a
new speaker's (``teacher_probabilities``' ``heard``; found from each teacher's configuration).

Teachers must not have been trained on the dev or test speakers of the student's run, or model
selection and the scores leak: ``kerasser.evaluate.crossval`` therefore refuses distillation (each fold
would need teachers trained without its held-out speaker).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from kerasser.data.corpora import Utterance, read_corpora, select, speaker_key
from kerasser.data.label_space import LabelSpace
from kerasser.errors import SettingsError
from kerasser.tasks import EMODB_EMOTIONS


def sharpen(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``probs ** (1 / temperature)`` renormalised over the last axis: the softmax of the logits
    divided by ``temperature`` (T > 1 flattens, T < 1 sharpens, T = 1 leaves them)."""
    probs = np.asarray(probs, np.float64)
    if temperature == 1.0:
        return probs / probs.sum(axis=-1, keepdims=True)
    logp = np.log(np.clip(probs, 1e-12, None)) / temperature
    logp -= logp.max(axis=-1, keepdims=True)
    out = np.exp(logp)
    return out / out.sum(axis=-1, keepdims=True)


def mix_targets(label: int, teacher: np.ndarray, weight: float, temperature: float = 1.0) -> np.ndarray:
    """``(1 - weight) * one_hot(label) + weight * sharpen(teacher, temperature)`` as float32."""
    one_hot = np.zeros(len(teacher), np.float64)
    one_hot[label] = 1.0
    return ((1.0 - weight) * one_hot + weight * sharpen(teacher, temperature)).astype(np.float32)


def teacher_probabilities(
    teachers: Sequence,
    utterances: Sequence[Utterance],
    tasks: Sequence[str],
    load: Callable[[str], np.ndarray],
    batch_size: int = 16,
    heard: Sequence[set[str]] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """Utterance path -> task -> the teachers' mean class probabilities on its clean waveform
    (``load(path)``; files it cannot load are left out, as training skips them). ``teachers`` are
    Keras models with the usual inputs; every one must predict every task in ``tasks``.

    ``heard``: per teacher, the speakers (``speaker_key``) it was trained on. An utterance is then
    labelled by the teachers that never heard its speaker when there are any (out-of-fold
    targets: teachers trained on speaker-grouped folds of the training speakers judge each
    utterance as they would a new speaker's), else by all of them."""
    for i, model in enumerate(teachers):
        missing = [t for t in tasks if t not in model.output]
        if missing:
            raise SettingsError(f"teacher {i + 1} does not predict {', '.join(missing)}")
    speakers = {u.path: speaker_key(u) for u in utterances}
    loaded = []
    for utt in utterances:
        try:
            loaded.append((utt.path, load(utt.path)))
        except Exception:  # noqa: BLE001 - reported by the training pipeline, which skips it too
            continue
    result: dict[str, dict[str, np.ndarray]] = {}
    for start in range(0, len(loaded), batch_size):
        chunk = loaded[start:start + batch_size]
        longest = max(len(w) for _, w in chunk)
        waves = np.zeros((len(chunk), longest), np.float32)
        for row, (_, w) in enumerate(chunk):
            waves[row, :len(w)] = w
        inputs = {"waveform": waves, "length": np.array([len(w) for _, w in chunk], np.int32)}
        outs = [model.predict_on_batch(inputs) for model in teachers]
        for row, (path, _) in enumerate(chunk):
            chosen = list(range(len(teachers)))
            if heard is not None:
                fresh = [i for i in chosen if speakers[path] not in heard[i]]
                chosen = fresh or chosen
            result[path] = {t: np.mean([np.asarray(outs[i][t][row], np.float64) for i in chosen], axis=0)
                            for t in tasks}
    return result


def soft_targets(
    utterances: Sequence[Utterance],
    tasks: Sequence[str],
    teacher: dict[str, dict[str, np.ndarray]],
    weight: float,
    temperature: float = 1.0,
    emotion_classes: tuple[str, ...] = EMODB_EMOTIONS,
) -> dict[str, dict[str, np.ndarray]]:
    """Utterance path -> task -> the student's target distribution (``mix_targets``, over the
    head's classes: ``emotion_classes`` for emotion, the teachers' and the student's); a task the
    utterance has no label for gets the teacher's distribution (its sample weight is 0 anyway)."""
    space = LabelSpace(emotion_classes)
    targets = {}
    for utt in utterances:
        if utt.path not in teacher:
            continue
        row = {}
        for t in tasks:
            probs = teacher[utt.path][t]
            column = space.head_index(t, utt.labels[t]) if t in utt.labels else None
            if column is not None:
                row[t] = mix_targets(column, probs, weight, temperature)
            else:
                row[t] = sharpen(probs, temperature).astype(np.float32)
        targets[utt.path] = row
    return targets


def check_teachers(config) -> None:
    """Raise (RunError, SettingsError) unless every run of ``config.distill_from`` is a run folder
    with a best model, predicting every task of ``config`` at its sample rate: said before any audio is read."""
    from kerasser.training.runs import RunError, RunPaths, load_config

    for run in config.distill_from:
        teacher = load_config(run)
        if not RunPaths(Path(run)).best_model.exists():
            raise RunError("no best.keras yet (has a training epoch finished?)", path=run)
        if teacher.model.audio.sample_rate != config.model.audio.sample_rate:
            raise SettingsError(f"{run}: the teacher takes another sample rate than the student")
        missing = [t for t in config.model.tasks if t not in teacher.model.tasks]
        if missing:
            raise SettingsError(f"{run}: the teacher does not predict {', '.join(missing)}")


def training_speakers(config) -> set[str]:
    """The speakers (``speaker_key``) a run of ``config`` trained on."""
    utterances = read_corpora(config.corpora, config.speaker_splits)
    return {speaker_key(u) for u in select(utterances, config.train_splits, config.model.tasks)}


def distillation_targets(config, utterances: Sequence[Utterance], load, write) -> dict[str, dict[str, np.ndarray]]:
    """The soft targets of ``config`` (a ``TrainConfig`` with ``distill_from``, its teachers
    already passed by ``check_teachers``) for ``utterances``."""
    from kerasser.model.network import inference_model, require_waveform_only
    from kerasser.training.runs import load_best_model, load_config

    tasks = config.model.tasks
    teachers = [inference_model(load_best_model(run)) for run in config.distill_from]
    for teacher in teachers:
        require_waveform_only(teacher, "distillation teachers")
    for run in config.distill_from:  # (the student's head is known once its training data is read)
        classes = load_config(run).model.emotion_classes
        if "emotion" in tasks and classes != config.model.emotion_classes:
            raise SettingsError(f"{run}: the teacher's emotion classes ({', '.join(classes)}) are not the "
                                f"student's ({', '.join(config.model.emotion_classes)})")
    heard = [training_speakers(load_config(run)) for run in config.distill_from]
    probs = teacher_probabilities(teachers, utterances, tasks, load, heard=heard)
    fresh = sum(any(speaker_key(u) not in h for h in heard) for u in utterances if u.path in probs)
    targets = soft_targets(utterances, tasks, probs, config.distill_weight, config.distill_temperature,
                           config.model.emotion_classes)
    space = LabelSpace(config.model.emotion_classes)
    agree = {t: np.mean([np.argmax(probs[u.path][t]) == space.head_index(t, u.labels[t]) for u in utterances
                         if u.path in probs and t in u.labels]) for t in tasks}
    write(
        f"distillation: {len(teachers)} teacher(s), weight {config.distill_weight:g}, temperature "
        f"{config.distill_temperature:g}; {fresh} of {len(probs)} utterances labelled by teachers that never "
        f"heard their speaker; teachers' accuracy on the training utterances "
        + ", ".join(f"{t} {100 * a:.1f}" for t, a in agree.items())
    )
    return targets
