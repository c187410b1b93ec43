"""Training: read corpora, adapt standardisation, fit with dev-UAR checkpointing, resume.

``train(config)`` writes a run folder (see ``kerasser.training.runs``). Model selection and early stopping
use the mean dev UAR over the model's tasks, computed after every epoch by ``DevUAR``. The
recipe's parts (optimizer, learning-rate warm-up and cosine decay, label smoothing,
class-balanced weights, waveform augmentation, fixed or learned loss weights) are all fields of
``TrainConfig``.
"""

from __future__ import annotations

import dataclasses
import shutil
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kerasser.config import TrainConfig, save_json
from kerasser.data import dataset as data
from kerasser.data.corpora import Utterance, read_corpora, select
from kerasser.data.examples import DecodeLog, ExampleSettings, load_utterance
from kerasser.data.label_space import LabelSpace, fit_label_space
from kerasser.data.transcripts import fit_text_vocabulary
from kerasser.errors import DataError
from kerasser.metrics import mean_uar, predict, score
from kerasser.model.network import NORMALIZATION, build_model, compile_model, read_from_emotion
from kerasser.model.speaker_reference import uses_reference, with_references
from kerasser.model.uncertainty import STATE_KEY, UncertaintyWeighting
from kerasser.model.weight_ema import SwapAveragedWeights
from kerasser.progress import writer
from kerasser.tasks import SPEAKER_TARGET, TRANSCRIPT_TARGET
from kerasser.text_input import input_vocabulary
from kerasser.training import distribution
from kerasser.training.callbacks import (
    MONITOR,
    SEED_STATES,
    DevUAR,
    EpochLine,
    EpochSeed,
    ResumableEarlyStopping,
    SaveBest,
    SaveState,
    WeightAverage,
    restore_seed_states,
)
from kerasser.training.prebuild import build_for_fit
from kerasser.training.runs import (
    RunError,
    RunPaths,
    load_config,
    make_folder,
    read_state,
    trim_metrics,
    write_json_atomic,
)


def check_labels(utterances: Sequence[Utterance], tasks: Sequence[str], split: str) -> None:
    if not utterances:
        raise DataError(f"no {split} utterances with labels for {', '.join(tasks)}")
    for t in tasks:
        if not any(t in u.labels for u in utterances):
            raise DataError(f"no {split} utterance has a {t} label (drop the task or add a corpus)")


@dataclasses.dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    epochs_done: int
    best_epoch: int
    best_dev_uar: float


def learning_rate(config: TrainConfig, steps_per_epoch: int):
    """The learning rate: a number, or a schedule of linear warm-up from 0 over
    ``warmup_epochs`` then constant or cosine decay to 0 at the end of the epoch budget."""
    if config.schedule == "constant" and not config.warmup_epochs:
        return config.learning_rate
    warmup = int(round(config.warmup_epochs * steps_per_epoch))
    decay = max(1, config.epochs * steps_per_epoch - warmup)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else config.learning_rate,
        decay_steps=decay,
        alpha=1.0 if config.schedule == "constant" else 0.0,
        warmup_target=config.learning_rate if warmup else None,
        warmup_steps=warmup,
    )


def steps_per_epoch(num_examples: int, batch_size: int) -> int:
    """Batches per epoch, about: length buckets can each end on one partial batch."""
    return -(-num_examples // batch_size) + len(data.BUCKET_SECONDS) // 2


def adapt_normalization(model: keras.Model, examples) -> None:
    """Set the in-graph standardisation to the training audio's mean and variance (a text-only
    model has none)."""
    if any(layer.name == NORMALIZATION for layer in model.layers):
        model.get_layer(NORMALIZATION).adapt(data.waveforms(examples))


def check_run_folder(config: TrainConfig, resume: bool) -> tuple[RunPaths, dict | None]:
    """``(paths, state)`` of the run folder: one to resume must have a finished epoch, a new run's
    must hold none. Makes nothing (the folder is made once the corpora have been read)."""
    paths = RunPaths(Path(config.out))
    if paths.root.exists() and not paths.root.is_dir():
        raise RunError("exists and is not a folder", path=paths.root)
    state = read_state(paths)
    if resume:
        if state is None or not paths.last_model.exists():
            raise RunError("nothing to resume (no finished epoch there)", path=config.out)
        return paths, state
    if state is not None:
        raise RunError("a run is already there; pass --resume or another --out", path=config.out)
    return paths, None


def train(
    config: TrainConfig,
    resume: bool = False,
    write: Callable[[str], None] | None = None,
    epochs: int | None = None,
) -> TrainResult:
    """Train ``config`` into ``config.out``.

    With ``resume``, continue the run in ``config.out`` from its last finished epoch: its own
    saved config is used, except that ``epochs``, if given, raises or lowers the epoch budget.
    Progress lines go to ``write`` (default: stderr)."""
    write = writer(write)
    if resume:
        config = load_config(config.out)
        if epochs is not None:
            config = dataclasses.replace(config, epochs=epochs)
    strategy = distribution.make_strategy(config.strategy)  # first: multi-worker set-up precedes other TF calls
    folder = distribution.run_folder(config.out, config.strategy)
    if folder != config.out:  # a non-chief worker of a multi-worker run
        config = dataclasses.replace(config, out=folder)
    if strategy.num_replicas_in_sync > 1:
        write(f"{config.strategy} strategy: {strategy.num_replicas_in_sync} replicas share each batch of {config.batch_size}")
    with distribution.precision(config.mixed_precision), strategy.scope():
        return _train(config, resume, write)


def _train(config: TrainConfig, resume: bool, write: Callable[[str], None]) -> TrainResult:
    _check_sources(config, resume)
    paths, state = check_run_folder(config, resume)
    keras.utils.set_random_seed(config.seed)
    train_utts, dev_utts = _read_splits(config, write)  # first: a bad corpus leaves no run folder behind
    make_folder(paths.root)
    save_json(config, paths.config)
    log = DecodeLog(write)
    config, settings = _example_settings(config, paths, train_utts, write)
    train_examples = data.decoded(train_utts, settings, log, training=True)
    epoch = tf.Variable(0, dtype=tf.int64, trainable=False)  # set by EpochSeed before each epoch

    def training_batches(examples):
        return data.batched(
            examples, config.batch_size, training=True, seed=config.seed, augment_config=config.augment,
            sample_rate=settings.sample_rate, epoch=epoch, emotion_classes=config.model.emotion_classes,
        )

    train_ds = training_batches(train_examples)
    model, initial_epoch = _model(config, paths, state, train_examples, len(train_utts), settings, write)
    served = read_from_emotion(model, config.model.readout_tasks, config.model.emotion_classes)  # best.keras
    scored = served if config.select_on == "saved" else model  # what picks the epoch
    if uses_reference(model):  # each example gets its speaker's mean log mel, from the model's own layers
        train_ds = training_batches(with_references(model, train_utts, train_examples, log.failed))
    if initial_epoch >= config.epochs:
        write(f"nothing to do: {initial_epoch} of {config.epochs} epochs already done")
    dev_ds = _dev_batches(config, model, dev_utts, log) if dev_utts else None
    callbacks, early, averager = _callbacks(config, paths, state, epoch, dev_ds, served, scored, write)
    _fit(model, train_ds, config, initial_epoch, callbacks)
    final = read_state(paths) or {"epoch": initial_epoch, "best": float("nan"), "best_epoch": 0}
    if averager and len(averager.recent) > 1:
        tasks = config.model.tasks
        final = keep_average(model, served, scored, averager, paths, final, dev_ds, tasks, write,
                             {t: config.model.classes(t) for t in tasks})
    _report_end(config, paths, log, final, early is None, write)
    return TrainResult(paths.root, final["epoch"], final["best_epoch"], final["best"])


def _check_sources(config: TrainConfig, resume: bool) -> None:
    """The teacher runs and the model to start from, checked before any audio is read."""
    if config.distill_from:
        from kerasser.training.distillation import check_teachers

        check_teachers(config)
    if config.init_from and not resume:
        from kerasser.training.init_source import source_model_file

        source_model_file(config.init_from)


def _read_splits(config: TrainConfig, write) -> tuple[list[Utterance], list[Utterance]]:
    """The training and dev utterances (the dev ones empty without a dev split), labels checked."""
    tasks = config.model.tasks
    utterances = read_corpora(config.corpora, config.speaker_splits)
    train_utts = select(utterances, config.train_splits, tasks)
    check_labels(train_utts, tasks, "+".join(config.train_splits))
    dev_utts = []
    if config.dev_split is not None:
        dev_utts = select(utterances, config.dev_split, tasks)
        check_labels(dev_utts, tasks, config.dev_split)
    write(f"train {len(train_utts)} utterances, dev {len(dev_utts)}; tasks {', '.join(tasks)}")
    return train_utts, dev_utts


def _example_settings(config: TrainConfig, paths: RunPaths, train_utts, write) -> tuple[TrainConfig, ExampleSettings]:
    """What the training examples carry: the label space fitted to the training corpora, class or
    corpus weights, the adversary's classes, transcripts and distillation targets (``config`` comes
    back with the fitted emotion classes and adversary size)."""
    tasks = config.model.tasks
    rate = config.model.audio.sample_rate
    config = fit_label_space(config, train_utts, paths, write)
    space = LabelSpace.for_training(config.model.emotion_classes, train_utts if "emotion" in tasks else ())
    if space.masked:
        write("emotion classes masked per corpus: " + "; ".join(
            f"{corpus} {', '.join(c for c in space.emotion_classes if c not in own)}"
            for corpus, own in space.corpora.items() if set(space.emotion_classes) - set(own)))
    if config.balance_corpora:
        balance = data.corpus_weights(train_utts, tasks, by_class=config.class_balanced)
    else:
        balance = data.class_weights(train_utts, tasks) if config.class_balanced else None
    config, speaker_index = _adversary_classes(config, paths, train_utts, write)
    config = fit_text_vocabulary(config, train_utts, paths, write)
    ctc = config.model.ctc_weight > 0
    if ctc:
        with_text = sum(bool(u.transcript) for u in train_utts)
        write(f"CTC auxiliary loss (weight {config.model.ctc_weight:g}): {with_text} of {len(train_utts)} "
              "training utterances have a transcript")
    soft = None
    if config.distill_from:
        from kerasser.training.distillation import distillation_targets

        soft = distillation_targets(config, train_utts, lambda path: load_utterance(path, rate), write)
    settings = ExampleSettings(tasks, rate, balance, speaker_index, transcripts=ctc,
                               by_agreement=config.weight_by_agreement, soft_targets=soft, space=space,
                               text_vocabulary=input_vocabulary(config.model))
    return config, settings


def _adversary_classes(config: TrainConfig, paths: RunPaths, train_utts, write):
    """``(config, speaker_index)`` of the speaker- or corpus-adversarial head: None when it is off
    (or has fewer than two classes to tell apart); the config's adversary size set to its classes."""
    if not config.model.speaker_adversarial:
        return config, None
    speaker_index = data.adversary_indices(train_utts, config.model.adversary)
    classes = len(set(speaker_index.values()))
    if classes < 2:
        write(f"warning: {config.model.adversary}-adversarial training needs two or more training "
              f"{config.model.adversary}s; it is off")
        return config, None
    if config.model.speakers != classes:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, speakers=classes))
        save_json(config, paths.config)
    return config, speaker_index


def _model(config: TrainConfig, paths: RunPaths, state, train_examples, train_count: int,
           settings: ExampleSettings, write):
    """``(model, initial_epoch)``: a resumed run's last.keras, or a new model, its normalisation
    adapted to the training set, its weights from ``init_from`` where given, compiled."""
    if state:
        model = keras.saving.load_model(paths.last_model)
        restore_seed_states(model, state.get(SEED_STATES))
        trim_metrics(paths.metrics, state["epoch"])
        write(f"resuming after epoch {state['epoch']} (best dev UAR {state['best']:.1f})")
        return model, state["epoch"]
    tasks = config.model.tasks
    model = build_model(config.model)
    adapt_normalization(model, train_examples)
    if config.init_from:  # fine-tuning: the trained model's weights where the layers match
        from kerasser.training.init_from import initialise

        initialise(model, config.init_from, tasks, config.freeze, write)
    compile_model(
        model,
        {
            **config.task_weights,
            **({SPEAKER_TARGET: 1.0} if settings.speaker_index else {}),
            **({TRANSCRIPT_TARGET: config.model.ctc_weight} if settings.transcripts else {}),
        },
        learning_rate(config, steps_per_epoch(train_count, config.batch_size)),
        optimizer=config.optimizer,
        weight_decay=config.weight_decay,
        label_smoothing=config.label_smoothing,
        margin=config.margin,
        logit_scale=config.model.head_scale,
        learned=tasks if config.learned_weights else (),
        ema_momentum=config.ema_momentum,
    )
    return model, 0


def _dev_batches(config: TrainConfig, model, dev_utts, log: DecodeLog):
    """The dev set's batches (with speaker references where the model takes them)."""
    settings = ExampleSettings(config.model.tasks, config.model.audio.sample_rate,
                               text_vocabulary=input_vocabulary(config.model))
    dev_examples = data.decoded(dev_utts, settings, log)
    if uses_reference(model):
        dev_examples = with_references(model, dev_utts, dev_examples, log.failed)
    return data.batched(dev_examples, config.batch_size, training=False)


def _callbacks(config: TrainConfig, paths: RunPaths, state, epoch, dev_ds, served, scored, write):
    """``(callbacks, early stopping or None, weight averager or None)``: the epoch seed and line,
    metrics.csv, learned loss weights, dev scoring and early stopping, best.keras, weight
    averaging, and state.json last."""
    tasks = config.model.tasks
    callbacks = [EpochSeed(epoch), EpochLine(config.epochs, tasks, write),
                 keras.callbacks.CSVLogger(str(paths.metrics), append=bool(state))]
    weighting = UncertaintyWeighting(tasks, (state or {}).get(STATE_KEY)) if config.learned_weights else None
    if weighting is not None:  # first: the epoch line, metrics.csv and state.json report its weights
        callbacks.insert(0, weighting)
    early = None
    if dev_ds is not None:
        early = ResumableEarlyStopping(resume_state=state, monitor=MONITOR, mode="max", patience=config.patience)
        best = SaveBest(paths.best_model, MONITOR, state["best"] if state else -np.inf, served)
        head_classes = {t: config.model.classes(t) for t in tasks}
        callbacks = [DevUAR(dev_ds, tasks, scored, head_classes), *callbacks, best, early]
    else:
        callbacks.append(SaveBest(paths.best_model, None, served=served))
    if config.ema_momentum:  # dev scoring and best.keras see the averaged weights, last.keras the live ones
        callbacks = [SwapAveragedWeights(), *callbacks, SwapAveragedWeights()]
    callbacks.append(SaveState(paths, early, weighting))
    averager = WeightAverage(config.average_last) if config.average_last > 1 else None
    if averager:
        callbacks.append(averager)
    return callbacks, early, averager


def _fit(model, train_ds, config: TrainConfig, initial_epoch: int, callbacks) -> None:
    # Progress goes through ``write`` (one line per epoch), not Keras' progress bar on stdout.
    # Datasets of unknown length end an epoch by running out, which Keras warns about.
    build_for_fit(model, train_ds)  # the train step is then traced once, not twice
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        model.fit(
            train_ds,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            verbose=0,
            shuffle=False,  # the dataset shuffles itself, seeded
        )


def _report_end(config: TrainConfig, paths: RunPaths, log: DecodeLog, final: dict, no_dev: bool, write) -> None:
    """The run's last lines (skipped files, the best epoch) and its learning curves."""
    if log.failed:
        write(f"warning: {len(log.failed)} file(s) could not be decoded and were skipped")
    if paths.metrics.exists():
        from kerasser.figures import learning_curves

        learning_curves(paths.metrics, paths.learning_curves, config.model.tasks)
    if no_dev:
        write(f"trained {final['epoch']} epochs without a dev split; model: {paths.best_model}")
    else:
        write(f"best mean dev UAR {final['best']:.1f} at epoch {final['best_epoch']}; model: {paths.best_model}")


def keep_average(model, served, scored, averager: WeightAverage, paths: RunPaths, state: dict, dev_ds, tasks,
                 write, classes=None) -> dict:
    """Set ``model``'s weights to the average and save ``served`` (``model`` as best.keras holds
    it, sharing its weights) as average.keras; make it best.keras when there is no dev split or
    the mean dev UAR of ``scored`` (``served`` or ``model``, as for the epochs) is at least the
    best epoch's. Returns the updated state."""
    model.set_weights(averager.averaged())
    served.save(paths.average_model)
    state = dict(state, averaged_epochs=len(averager.recent))
    if dev_ds is None:
        shutil.copyfile(paths.average_model, paths.best_model)
        write(f"best.keras: the average of the last {len(averager.recent)} epochs")
        state["averaged"] = True
    else:
        uar = mean_uar(score(*predict(scored, dev_ds, tasks), classes=classes))
        better = uar >= state["best"]
        write(f"average of the last {len(averager.recent)} epochs: mean dev UAR {uar:.1f} "
              f"({'kept as best.keras' if better else 'not better than the best epoch'})")
        if better:
            shutil.copyfile(paths.average_model, paths.best_model)
            state.update(best=uar, averaged=True)
        state["average_dev_uar"] = uar
    write_json_atomic(paths.state, state)
    return state


def resume(run_dir: str, epochs: int | None = None, write: Callable[[str], None] | None = None) -> TrainResult:
    """Continue the run in ``run_dir`` from its last finished epoch with its own saved config;
    ``epochs``, if given, raises or lowers the epoch budget."""
    config = dataclasses.replace(load_config(run_dir), out=str(run_dir))
    return train(config, resume=True, write=write, epochs=epochs)
