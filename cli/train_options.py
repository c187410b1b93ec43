"""The model and recipe options ``train`` and ``crossval`` share, and their mapping onto the
library's config builder (``kerasser.training.recipes.build_train_config``). Unset options are None, so
the recipe's own value stands."""

from __future__ import annotations

import click

from kerasser.config import (
    AUTO_WEIGHTS,
    CONV_PADDINGS,
    FEATURE_NORMS,
    FRONTENDS,
    HEADS,
    OPTIMIZERS,
    SCHEDULES,
    SELECT_ON,
    STRATEGIES,
)
from kerasser.data.corpora.utterance import SPLITS
from kerasser.training.recipes import RECIPES
from kerasser_cli.options import corpus_options


def _floats(text: str | None, option: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    if text.strip().lower() in ("none", "off", ""):
        return ()
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {text!r}", param_hint=option)


def _derived(text: str | None) -> tuple[str, ...] | None:
    """``--from-emotion``, ``--readout-from-emotion``: task letters or names, or none (every task its own head)."""
    from kerasser.tasks import parse_tasks

    if text is None:
        return None
    if text.strip().lower() in ("none", "off", ""):
        return ()
    return tuple(t.name for t in parse_tasks(text))


def _tasks(ctx, param, text: str | None) -> str | None:
    """``--tasks`` checked as it is parsed (a wrong letter: a usage error before any heavy import)."""
    from kerasser.errors import SettingsError
    from kerasser.tasks import parse_tasks

    if text is not None:
        try:
            parse_tasks(text)
        except SettingsError as error:
            raise click.BadParameter(str(error)) from None
    return text


def _loss_weights(text: str | None) -> tuple[float, ...] | str | None:
    """``--loss-weights``: numbers, ``auto`` (learned in training), or nothing (None: the
    starting point's weights)."""
    if text is not None and text.strip().lower() == AUTO_WEIGHTS:
        return AUTO_WEIGHTS
    return _floats(text, "--loss-weights") or None  # "none": no explicit weights, not zero of them


_OPTIONS = [
    click.option("--recipe", type=click.Choice(list(RECIPES)), default="default", show_default=True,
                 help="Starting point: default (the best measured), paper (Zhang et al., raw waveform), or an "
                      "earlier default kept for its benchmark records (v5, v4). Every option below overrides it."),
    click.option("--tasks", default=None, callback=_tasks,
                 help="Tasks: a(rousal), v(alence), d(ominance), e(motion). [default: a,v,d,e, or --config's]"),
    click.option("--attention/--no-attention", default=None,
                 help="Attention pooling, or the last valid GRU step (the paper's last-step model: the recipe's "
                      "pooling heads and attentive statistics are switched off too, and a note says so)."),
    click.option("--loss-weights", default=None,
                 help="Comma-separated w_m, one per task (default: all 1), or auto: learned from each task's "
                      "loss by uncertainty weighting (Kendall et al., 2018)."),
    click.option("--epochs", default=None, type=click.IntRange(1), help="Maximum epochs (recipe: 60)."),
    click.option("--batch-size", default=None, type=click.IntRange(1), help="Recipe: 16."),
    click.option("--lr", default=None, type=click.FloatRange(min=0, min_open=True), help="Peak learning rate (default 1e-3, paper 1e-4)."),
    click.option("--patience", default=None, type=click.IntRange(1), help="Early stopping: epochs without a better mean dev UAR."),
    click.option("--seed", default=0, show_default=True, type=int, help="Seeds weights, dropout, shuffling and augmentation."),
    click.option("--frontend", type=click.Choice(FRONTENDS), default=None,
                 help="logmel (default recipe): log mel filterbank + conv blocks; shared: raw-waveform convolutions "
                      "(fast); framed: per-frame raw-waveform convolutions as in the paper."),
    click.option("--padding", type=click.Choice(CONV_PADDINGS), default=None,
                 help="Raw-waveform convolution padding (framed only; the paper used same)."),
    click.option("--l2", default=None, type=click.FloatRange(min=0), help="L2 penalty on kernels (paper 1e-4, default 0)."),
    click.option("--dropout", default=None, type=click.FloatRange(0, 1, max_open=True)),
    click.option("--bidirectional/--no-bidirectional", default=None, help="Bidirectional GRUs."),
    click.option("--gru-layers", default=None, type=click.IntRange(1)),
    click.option("--recurrent-stride", default=None, type=click.IntRange(1),
                 help="Frames averaged into one GRU step (2: half the recurrent steps, faster on devices)."),
    click.option("--pool-heads", default=None, type=click.IntRange(1), help="Attention heads per task."),
    click.option("--from-emotion", "derived_tasks", default=None,
                 help="Dimension tasks read off the emotion head (its probabilities summed per level by "
                      "PROTOCOL.md's emotion table) instead of a head of their own, e.g. d; none: every task "
                      "its own head. For corpora whose dimensions are defined by the emotion (EmoDB)."),
    click.option("--readout-from-emotion", "readout_tasks", default=None,
                 help="Dimension tasks trained with a head of their own but read off the emotion head (as "
                      "--from-emotion) in the saved model (the epoch picked as --select-on says); the own "
                      "head is a training-only auxiliary, e.g. d; none: off. The default recipe reads d so on "
                      "EmoDB when the tasks include e and d (with --select-on trained)."),
    click.option("--pool-statistics/--no-pool-statistics", default=None,
                 help="Attentive statistics: also the attention-weighted standard deviation."),
    click.option("--feature-norm", type=click.Choice(FEATURE_NORMS), default=None, help="Log-mel normalisation: per utterance (mean, meanvar, level), per speaker (speaker: needs --fixed-filterbank), or per-channel energy normalisation (pcen)."),
    click.option("--norm-gate-db", type=float, default=None, help="Per-utterance normalisation statistics over the speech frames only: those within this many dB of the loudest frame (an energy gate, so the silence around speech does not shift the level; 0: every frame)."),
    click.option("--spec-augment/--no-spec-augment", default=None, help="SpecAugment time and frequency masks (logmel)."),
    click.option("--se", "block_se", default=None, type=click.IntRange(0), help="Squeeze-excitation bottleneck units (0: off)."),
    click.option("--learnable-filterbank/--fixed-filterbank", "mel_trainable", default=None),
    click.option("--ctc-weight", default=None, type=click.FloatRange(min=0),
                 help="Weight alpha of the CTC auxiliary loss on transcripts (Cai et al.; 0: no CTC head)."),
    click.option("--speaker-adversarial", default=None, type=click.FloatRange(min=0),
                 help="Gradient-reversal weight of a speaker (or --adversary corpus) classifier (training only; 0: off)."),
    click.option("--mixstyle", default=None, type=click.FloatRange(0, 1),
                 help="MixStyle: probability per batch of mixing the utterances' feature statistics after the "
                      "first convolution block (training only; log-mel front end; 0: off)."),
    click.option("--adversary", type=click.Choice(["speaker", "corpus"]), default=None,
                 help="What the --speaker-adversarial classifier tells apart: the training speakers (default) or "
                      "the training corpora (corpus-adversarial training)."),
    click.option("--head", type=click.Choice(HEADS), default=None,
                 help="Each task's classifier: softmax (Dense) or cosine (scaled cosines to the class weights)."),
    click.option("--head-scale", default=None, type=click.FloatRange(min=0, min_open=True),
                 help="Scale s of the cosine head's logits (default 30)."),
    click.option("--margin", default=None, type=click.FloatRange(0, 1, max_open=True),
                 help="Additive cosine margin m (AM-softmax / CosFace; needs --head cosine; 0: off)."),
    click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=None),
    click.option("--weight-decay", default=None, type=click.FloatRange(min=0), help="AdamW weight decay."),
    click.option("--schedule", type=click.Choice(SCHEDULES), default=None, help="Learning rate after warm-up."),
    click.option("--warmup", "warmup_epochs", default=None, type=click.FloatRange(min=0), help="Warm-up epochs."),
    click.option("--label-smoothing", default=None, type=click.FloatRange(0, 1, max_open=True)),
    click.option("--average-last", default=None, type=click.IntRange(0),
                 help="Average the weights of the last N epochs at the end (kept if not worse on dev)."),
    click.option("--ema", "ema_momentum", default=None, type=click.FloatRange(0, 1, max_open=True),
                 help="Keep a moving average of the weights with this momentum per step (e.g. 0.99) and score "
                      "and save the averaged weights (0: off)."),
    click.option("--select-on", type=click.Choice(SELECT_ON), default=None,
                 help="Whose mean dev UAR picks the epoch: the model as saved or as trained (its own heads; "
                      "differs from the saved one with --readout-from-emotion). [default: saved; trained where "
                      "the default recipe reads dominance off the emotion head]"),
    click.option("--class-balanced/--no-class-balanced", default=None, help="Weight examples by inverse class frequency."),
    click.option("--balance-corpora/--no-balance-corpora", default=None,
                 help="Give each training corpus the same total weight per task (with --class-balanced, "
                      "shared equally by its classes), so a larger corpus does not drown the others."),
    click.option("--weight-by-agreement/--no-weight-by-agreement", default=None,
                 help="Also weight each utterance by its listener agreement (EmoDB's erkennung.txt)."),
    click.option("--speed", default=None, help="Speed perturbation factors, e.g. 0.9,1.0,1.1 (none: off)."),
    click.option("--crop-prob", "augment_crop_prob", default=None, type=click.FloatRange(0, 1), help="Random crops: probability."),
    click.option("--codec-prob", "augment_codec_prob", default=None, type=click.FloatRange(0, 1),
                 help="Telephone channel (300-3400 Hz, 8 kHz, mu-law): probability."),
    click.option("--gain-db", "augment_gain_db", default=None, type=click.FloatRange(min=0), help="Random gain range, dB."),
    click.option("--noise-prob", "augment_noise_prob", default=None, type=click.FloatRange(0, 1), help="Additive noise: probability."),
    click.option("--reverb-prob", "augment_reverb_prob", default=None, type=click.FloatRange(0, 1),
                 help="Synthetic room reverberation: probability."),
    click.option("--bandlimit-prob", "augment_bandlimit_prob", default=None, type=click.FloatRange(0, 1),
                 help="Random band-pass (other microphones): probability."),
    click.option("--mixup", "augment_mixup_alpha", default=None, type=click.FloatRange(min=0),
                 help="Mixup of training batches: Beta(alpha, alpha) mixing weights (0: off)."),
    click.option("--train-splits", default="train", show_default=True, help="Comma-separated splits to train on."),
    click.option("--dev-split", default="dev", show_default=True, type=click.Choice([*SPLITS, "none"]),
                 help="Split that picks the best epoch and stops early; none: train all epochs, keep the last."),
    click.option("--strategy", type=click.Choice(STRATEGIES), default=None,
                 help="tf.distribute: default (one device), mirrored (all local GPUs, or logical CPUs), "
                      "multiworker (workers set up by TF_CONFIG). --batch-size is the global batch."),
    click.option("--mixed-precision/--no-mixed-precision", default=None,
                 help="mixed_float16 compute (float32 weights, signal path and heads); for GPUs."),
]


def recipe_options(fn):
    """Add the corpus, recipe, model and training options to a command."""
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return corpus_options(fn)


def recipe_overrides(options: dict) -> dict:
    """Command-line option values -> ``build_train_config`` keyword arguments (recipe, tasks and
    overrides; corpora and out are the caller's)."""
    from kerasser.tasks import parse_tasks

    o = dict(options)
    spec_augment = o.pop("spec_augment")
    speed = _floats(o.pop("speed"), "--speed")
    weights = _loss_weights(o.pop("loss_weights"))
    splits = tuple(s.strip() for s in o.pop("train_splits").split(",") if s.strip())
    dev = o.pop("dev_split")
    return dict(
        recipe=o.pop("recipe"),
        tasks=tuple(t.name for t in parse_tasks(tasks)) if (tasks := o.pop("tasks")) else None,
        derived_tasks=_derived(o.pop("derived_tasks")),
        readout_tasks=_derived(o.pop("readout_tasks")),
        learning_rate=o.pop("lr"),
        conv_padding=o.pop("padding"),
        loss_weights=weights,
        augment_speed=speed,
        spec_time_masks=None if spec_augment is None else (2 if spec_augment else 0),
        spec_freq_masks=None if spec_augment is None else (2 if spec_augment else 0),
        train_splits=splits,
        dev_split=dev,
        **o,
    )
