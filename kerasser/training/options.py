"""The training options' one table: each row is a setting's config field, its command-line flag,
its type and its help. ``kerasser_cli.train_options`` makes the click options of ``kerasser
train``, ``crossval`` and ``tune`` from it; ``kerasser.training.recipes.train_arguments`` rebuilds
a run's command line from it (model cards). The defaults a flag's help shows are read from the
recipes (:func:`recipe_defaults`), never written here.

``train_arguments(config)`` is the ``kerasser train`` command line that rebuilds a config: the
closest recipe plus the options whose values differ from it.

A few options are not one field each and stay with the command line: ``--recipe``, ``--tasks``,
``--loss-weights`` (numbers or ``auto``) and ``--spec-augment`` (both mask counts).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

from kerasser.config import (
    ADVERSARIES,
    AUTO_WEIGHTS,
    CONV_PADDINGS,
    FEATURE_NORMS,
    FREEZES,
    FRONTENDS,
    HEADS,
    OPTIMIZERS,
    SCHEDULES,
    SELECT_ON,
    STRATEGIES,
    TrainConfig,
)
from kerasser.data.corpora.utterance import SPLITS
from kerasser.text_input import MODALITIES
from kerasser.training.recipes import RECIPES, build_train_config

# Kinds beyond int, float, bool (a switch: "--on/--off"), str and a tuple of choices.
TASK_LIST = "tasks"  # task letters or names, "none": ()
NUMBERS = "numbers"  # comma-separated numbers, "none": ()
NAMES = "names"  # comma-separated names


@dataclasses.dataclass(frozen=True)
class Option:
    """One training option. ``field``: its place in ``TrainConfig`` ("epochs", "model.dropout",
    "augment.noise_prob"); ``flag``: "--dropout", a switch "--attention/--no-attention"; ``kind``:
    int, float, bool, str, a tuple of choices, or TASK_LIST / NUMBERS / NAMES; ``low`` / ``high``:
    the range of a number (``*_open``: the bound itself excluded); ``train_only``: ``kerasser
    train`` has it, not ``crossval`` / ``tune``; ``rebuilt``: ``train_arguments`` gives it
    (settings of where and how a run runs, not of what it learns, are not); ``show_default``: its
    help gives the recipes' values (off where the value depends on the corpora); ``always``: the
    command line always sets it, to the recipe's value unless given (also over ``--config``'s),
    and ``train_arguments`` always gives it."""

    field: str
    flag: str
    kind: object
    help: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    train_only: bool = False
    rebuilt: bool = True
    show_default: bool = True
    always: bool = False

    @property
    def key(self) -> str:
        """The ``build_train_config`` keyword (and the click parameter name): the field's last
        part, ``augment_<name>`` for augmentation fields."""
        scope, _, name = self.field.rpartition(".")
        return f"augment_{name}" if scope == "augment" else name

    @property
    def flags(self) -> tuple[str, ...]:
        """``(flag,)``, or a switch's ``(on, off)``."""
        return tuple(self.flag.split("/"))

    def value(self, config: TrainConfig):
        obj = config
        for part in self.field.split("."):
            obj = getattr(obj, part)
        return obj


def _o(field, flag, kind, help="", **more) -> Option:
    return Option(field, flag, kind, help, **more)


TRAINING_OPTIONS: tuple[Option, ...] = (
    _o("model.attention", "--attention/--no-attention", bool,
       "Attention pooling, or the last valid GRU step (the paper's last-step model: the recipe's pooling "
       "heads and attentive statistics are switched off too, and a note says so)."),
    _o("epochs", "--epochs", int, "Maximum epochs.", low=1),
    _o("batch_size", "--batch-size", int, "Utterances per batch (the global batch with --strategy).", low=1),
    _o("learning_rate", "--lr", float, "Peak learning rate.", low=0, low_open=True),
    _o("patience", "--patience", int, "Early stopping: epochs without a better mean dev UAR.", low=1),
    _o("model.frontend", "--frontend", FRONTENDS,
       "logmel: log mel filterbank + conv blocks; shared: raw-waveform convolutions (fast); framed: per-frame "
       "raw-waveform convolutions as in the paper."),
    _o("model.conv_padding", "--padding", CONV_PADDINGS, "Raw-waveform convolution padding (framed only)."),
    _o("model.l2", "--l2", float, "L2 penalty on kernels.", low=0),
    _o("model.dropout", "--dropout", float, "Dropout rate.", low=0, high=1, high_open=True),
    _o("model.bidirectional", "--bidirectional/--no-bidirectional", bool, "Bidirectional GRUs."),
    _o("model.gru_layers", "--gru-layers", int, "Stacked GRU layers (0: none, the blocks go straight to pooling).",
       low=0),
    _o("model.recurrent_stride", "--recurrent-stride", int,
       "Frames averaged into one GRU step (2: half the recurrent steps, faster on devices).", low=1),
    _o("model.pool_heads", "--pool-heads", int, "Attention heads per task.", low=1),
    _o("model.derived_tasks", "--from-emotion", TASK_LIST,
       "Dimension tasks read off the emotion head (its probabilities summed per level by PROTOCOL.md's "
       "emotion table) instead of a head of their own, e.g. d; none: every task its own head. For corpora "
       "whose dimensions are defined by the emotion (EmoDB)."),
    _o("model.readout_tasks", "--readout-from-emotion", TASK_LIST,
       "Dimension tasks trained with a head of their own but read off the emotion head (as --from-emotion) "
       "in the saved model (the epoch picked as --select-on says); the own head is a training-only "
       "auxiliary, e.g. d; none: off. The default recipe reads d so on EmoDB when the tasks include e and d "
       "(with --select-on trained).", show_default=False),
    _o("model.pool_statistics", "--pool-statistics/--no-pool-statistics", bool,
       "Attentive statistics: also the attention-weighted standard deviation."),
    _o("model.feature_norm", "--feature-norm", FEATURE_NORMS,
       "Log-mel normalisation: per utterance (mean, meanvar, level), per speaker (speaker: needs "
       "--fixed-filterbank), per-channel energy normalisation (pcen), or minus the mean of the frames so far "
       "(running: causal)."),
    _o("model.norm_gate_db", "--norm-gate-db", float,
       "Per-utterance normalisation statistics over the speech frames only: those within this many dB of "
       "the loudest frame (an energy gate, so the silence around speech does not shift the level; 0: every "
       "frame)."),
    _o("model.block_se", "--se", int, "Squeeze-excitation bottleneck units (0: off).", low=0),
    _o("model.block_separable", "--separable/--no-separable", bool,
       "Depthwise-separable convolution blocks (fewer weights; the tiny recipe's)."),
    _o("model.causal", "--causal/--no-causal", bool,
       "Causal blocks (no frame sees a later one; needs --feature-norm none and no bidirectional GRU): the "
       "export adds a step model that runs chunk by chunk (step.tflite)."),
    _o("model.mel_trainable", "--learnable-filterbank/--fixed-filterbank", bool, "Train the mel filterbank."),
    _o("model.ctc_weight", "--ctc-weight", float,
       "Weight alpha of the CTC auxiliary loss on transcripts (Cai et al.; 0: no CTC head).", low=0),
    _o("model.modality", "--modality", MODALITIES,
       "What the model reads: the audio, the transcript (text), or both fused by bridge tokens (audio+text); "
       "text needs transcripts (a manifest's text column, IEMOCAP, EmoDB, RAVDESS)."),
    _o("model.bridge_tokens", "--bridge-tokens", int,
       "Learnable bridge tokens that cross-attend to the audio and the text (text models).", low=1),
    _o("model.modality_dropout", "--modality-dropout", float,
       "audio+text training: chance an example loses its text (so the audio alone works); then half that its audio.",
       low=0, high=1, high_open=True),
    _o("model.speaker_adversarial", "--speaker-adversarial", float,
       "Gradient-reversal weight of a speaker (or --adversary corpus) classifier (training only; 0: off).", low=0),
    _o("model.mixstyle", "--mixstyle", float,
       "MixStyle: probability per batch of mixing the utterances' feature statistics after the first "
       "convolution block (training only; log-mel front end; 0: off).", low=0, high=1),
    _o("model.adversary", "--adversary", ADVERSARIES,
       "What the --speaker-adversarial classifier tells apart: the training speakers or the training corpora "
       "(corpus-adversarial training)."),
    _o("model.head", "--head", HEADS,
       "Each task's classifier: softmax (Dense) or cosine (scaled cosines to the class weights)."),
    _o("model.head_scale", "--head-scale", float, "Scale s of the cosine head's logits.", low=0, low_open=True),
    _o("margin", "--margin", float, "Additive cosine margin m (AM-softmax / CosFace; needs --head cosine; 0: off).",
       low=0, high=1, high_open=True),
    _o("optimizer", "--optimizer", OPTIMIZERS, "Optimizer."),
    _o("weight_decay", "--weight-decay", float, "AdamW weight decay.", low=0),
    _o("schedule", "--schedule", SCHEDULES, "Learning rate after warm-up."),
    _o("warmup_epochs", "--warmup", float, "Warm-up epochs.", low=0),
    _o("label_smoothing", "--label-smoothing", float, "Label smoothing.", low=0, high=1, high_open=True),
    _o("average_last", "--average-last", int,
       "Average the weights of the last N epochs at the end (kept if not worse on dev).", low=0),
    _o("ema_momentum", "--ema", float,
       "Keep a moving average of the weights with this momentum per step (e.g. 0.99) and score and save the "
       "averaged weights (0: off).", low=0, high=1, high_open=True),
    _o("select_on", "--select-on", SELECT_ON,
       "Whose mean dev UAR picks the epoch: the model as saved or as trained (its own heads; differs from the "
       "saved one with --readout-from-emotion). [default: saved; trained where the default recipe reads "
       "dominance off the emotion head]", show_default=False),
    _o("class_balanced", "--class-balanced/--no-class-balanced", bool, "Weight examples by inverse class frequency."),
    _o("balance_corpora", "--balance-corpora/--no-balance-corpora", bool,
       "Give each training corpus the same total weight per task (with --class-balanced, shared equally by its "
       "classes), so a larger corpus does not drown the others."),
    _o("weight_by_agreement", "--weight-by-agreement/--no-weight-by-agreement", bool,
       "Also weight each utterance by its listener agreement (EmoDB's erkennung.txt)."),
    _o("augment.speed", "--speed", NUMBERS, "Speed perturbation factors, e.g. 0.9,1.0,1.1 (none: off)."),
    _o("augment.crop_prob", "--crop-prob", float, "Random crops: probability.", low=0, high=1),
    _o("augment.codec_prob", "--codec-prob", float, "Telephone channel (300-3400 Hz, 8 kHz, mu-law): probability.",
       low=0, high=1),
    _o("augment.gain_db", "--gain-db", float, "Random gain range, dB.", low=0),
    _o("augment.noise_prob", "--noise-prob", float, "Additive noise: probability.", low=0, high=1),
    _o("augment.reverb_prob", "--reverb-prob", float, "Synthetic room reverberation: probability.", low=0, high=1),
    _o("augment.bandlimit_prob", "--bandlimit-prob", float, "Random band-pass (other microphones): probability.",
       low=0, high=1),
    _o("augment.mixup_alpha", "--mixup", float, "Mixup of training batches: Beta(alpha, alpha) mixing weights (0: off).",
       low=0),
    _o("train_splits", "--train-splits", NAMES, "Comma-separated splits to train on.", always=True),
    _o("dev_split", "--dev-split", (*SPLITS, "none"),
       "Split that picks the best epoch and stops early; none: train all epochs, keep the last.", always=True),
    _o("seed", "--seed", int, "Seeds weights, dropout, shuffling and augmentation.", always=True),
    _o("strategy", "--strategy", STRATEGIES,
       "tf.distribute: default (one device), mirrored (all local GPUs, or logical CPUs), multiworker (workers "
       "set up by TF_CONFIG). --batch-size is the global batch.", rebuilt=False),
    _o("mixed_precision", "--mixed-precision/--no-mixed-precision", bool,
       "mixed_float16 compute (float32 weights, signal path and heads); for GPUs.", rebuilt=False),
    _o("distill_weight", "--distill-weight", float, "Share of the teachers' distribution in the targets "
       "(with --distill-from).", low=0, high=1, low_open=True, train_only=True, rebuilt=False),
    _o("distill_temperature", "--distill-temperature", float, "Temperature applied to the teachers' "
       "probabilities (above 1 softens them).", low=0, low_open=True, train_only=True, rebuilt=False),
    _o("init_from", "--init-from", str,
       "Start from a trained model's weights (a run folder, an exported model folder, a shipped model's name "
       "or a .keras file): fine-tune on your own clips. Heads whose classes differ are made anew; use a lower "
       "--lr.", train_only=True, show_default=False),
    _o("freeze", "--freeze", FREEZES,
       "With --init-from: keep the front end (before the GRUs) or the whole encoder (all but the attention "
       "pooling and heads) as trained.", train_only=True),
)


def format_value(option: Option, value) -> str:
    """``value`` as the option's command line takes it."""
    from kerasser.tasks import TASKS

    if option.kind is bool:
        return option.flags[0] if value else option.flags[1]
    if option.kind == TASK_LIST:
        return ",".join(TASKS[t].letter for t in value) or "none"
    if option.kind == NUMBERS:
        return ",".join(f"{v:g}" for v in value) or "none"
    if option.kind == NAMES:
        return ",".join(value)
    if value is None:
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def option_arguments(option: Option, value) -> list[str]:
    """The arguments that set ``option`` to ``value``."""
    text = format_value(option, value)
    return [text] if option.kind is bool else [option.flag, text]


@functools.cache
def recipe_config(recipe: str) -> TrainConfig:
    """``recipe`` as a ``TrainConfig`` (no corpora): where the options' defaults are read."""
    return build_train_config(recipe, corpora=(), out="")


def recipe_defaults(option: Option, recipes: Sequence[str] = ("default", "paper")) -> str:
    """``"default recipe: 60"``, or ``"default recipe: 1e-3; paper: 1e-4"`` where they differ: the
    value each recipe gives the option (read from the recipes themselves)."""
    values = []
    for recipe in recipes:
        config = recipe_config(recipe)
        text = format_value(option, option.value(config))
        if option.kind is bool:
            text = "on" if option.value(config) else "off"
        values.append((recipe, text))
    if len({text for _, text in values}) == 1:
        return f"{values[0][0]} recipe: {values[0][1]}"
    return "; ".join(f"{name} recipe: {text}" for name, text in values)


def closest_recipe(config: TrainConfig) -> str:
    """The recipe ``config`` differs least from (in the fields the command line sets)."""
    fields = [o for o in TRAINING_OPTIONS if o.rebuilt and not o.always]

    def distance(name):
        base = build_train_config(name, corpora=config.corpora, out=config.out, tasks=config.model.tasks)
        return (sum(o.value(base) != o.value(config) for o in fields)
                + (base.model.spec_time_masks != config.model.spec_time_masks)
                + (base.model.audio != config.model.audio))

    return min(RECIPES, key=distance)


def train_arguments(config: TrainConfig) -> list[str]:
    """``kerasser train`` arguments that rebuild ``config``: ``--recipe`` plus every option whose
    value differs from that recipe's (settings without an option, such as the block widths, are
    the recipe's; a config that changes them is not rebuilt by this command)."""
    from kerasser.tasks import TASKS

    recipe = closest_recipe(config)
    base = build_train_config(recipe, corpora=config.corpora, out=config.out, tasks=config.model.tasks)
    args = ["--recipe", recipe]
    for name, path in config.corpora:
        args += ["--corpus", name, "--data", path]
    args += ["--tasks", ",".join(TASKS[t].letter for t in config.model.tasks)]
    rebuilt = [o for o in TRAINING_OPTIONS if o.rebuilt]
    for option in rebuilt:
        if not option.always and option.value(config) != option.value(base):
            args += option_arguments(option, option.value(config))
    if (config.model.spec_time_masks, config.model.spec_freq_masks) != (base.model.spec_time_masks, base.model.spec_freq_masks):
        args.append("--spec-augment" if config.model.spec_time_masks else "--no-spec-augment")
    if config.learned_weights:
        args += ["--loss-weights", AUTO_WEIGHTS]
    elif config.loss_weights:
        args += ["--loss-weights", ",".join(f"{w:g}" for w in config.loss_weights)]
    for option in rebuilt:
        if option.always:
            args += option_arguments(option, option.value(config))
    return [*args, "--out", config.out]
