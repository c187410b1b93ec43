"""The model and recipe options ``train`` and ``crossval`` share, made from the library's one table
(``kerasser.training.options.TRAINING_OPTIONS``), and their mapping onto the library's config
builder (``kerasser.training.recipes.build_train_config``). Unset options are None, so the
recipe's own value stands; each help ends with the recipes' values, read from the recipes."""

from __future__ import annotations

import click
from kerasser_cli.options import corpus_options

from kerasser.config import AUTO_WEIGHTS
from kerasser.training.options import (
    NAMES,
    NUMBERS,
    TASK_LIST,
    TRAINING_OPTIONS,
    Option,
    recipe_config,
    recipe_defaults,
)
from kerasser.training.recipes import RECIPES


def _floats(text: str | None, option: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    if text.strip().lower() in ("none", "off", ""):
        return ()
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {text!r}", param_hint=option) from None


def _derived(text: str | None) -> tuple[str, ...] | None:
    """A task list (``--from-emotion``, ``--readout-from-emotion``): task letters or names, or none."""
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


def _click_type(option: Option):
    kind = option.kind
    if isinstance(kind, tuple):
        return click.Choice(kind)
    if kind in (int, float):
        ranged = click.IntRange if kind is int else click.FloatRange
        if option.low is None and option.high is None:
            return kind
        if kind is int:
            return ranged(option.low, option.high)
        return ranged(option.low, option.high, min_open=option.low_open, max_open=option.high_open)
    return None  # str and the comma-separated kinds: text, parsed in recipe_overrides


def _help(option: Option) -> str:
    return f"{option.help} [{recipe_defaults(option)}]" if option.show_default else option.help


def make_option(option: Option):
    """The click option of one row of the table (its parameter: the ``build_train_config`` keyword)."""
    return click.option(option.flag, option.key, default=None, type=_click_type(option), help=_help(option))


# The options that are not one config field each (kerasser.training.options' docstring).
_SPECIAL = [
    click.option("--recipe", type=click.Choice(list(RECIPES)), default="default", show_default=True,
                 help="Starting point: default (the best measured), tiny (60 K parameters for devices, causal: "
                      "a step model streams it), paper (Zhang et al., raw waveform), or an earlier default kept "
                      "for its benchmark records (v5, v4). Every option below overrides it."),
    click.option("--tasks", default=None, callback=_tasks,
                 help="Tasks: a(rousal), v(alence), d(ominance), e(motion). [default: a,v,d,e, or --config's]"),
    click.option("--loss-weights", default=None,
                 help="Comma-separated w_m, one per task (default: all 1), or auto: learned from each task's "
                      "loss by uncertainty weighting (Kendall et al., 2018)."),
    click.option("--spec-augment/--no-spec-augment", default=None,
                 help="SpecAugment time and frequency masks (logmel; two of each when on)."),
]


def _add(fn, options):
    for option in reversed(options):
        fn = option(fn)
    return fn


def recipe_options(fn):
    """Add the corpus, recipe, model and training options to a command (``crossval``, ``tune``)."""
    shared = [make_option(o) for o in TRAINING_OPTIONS if not o.train_only]
    return corpus_options(_add(fn, [*_SPECIAL, *shared]))


def train_only_options(fn):
    """The options only ``kerasser train`` has (starting from another model)."""
    return _add(fn, [make_option(o) for o in TRAINING_OPTIONS if o.train_only])


def recipe_overrides(options: dict) -> dict:
    """Command-line option values -> ``build_train_config`` keyword arguments (recipe, tasks and
    overrides; corpora and out are the caller's)."""
    from kerasser.tasks import parse_tasks
    o = dict(options)
    spec_augment = o.pop("spec_augment")
    masks = None if spec_augment is None else (2 if spec_augment else 0)
    tasks = o.pop("tasks")
    overrides = dict(
        recipe=o.pop("recipe"),
        tasks=tuple(t.name for t in parse_tasks(tasks)) if tasks else None,
        loss_weights=_loss_weights(o.pop("loss_weights")),
        spec_time_masks=masks,
        spec_freq_masks=masks,
    )
    for option in TRAINING_OPTIONS:
        if option.key not in o:
            continue
        value = o.pop(option.key)
        if value is None and option.always:  # the recipe's value, also over --config's
            overrides[option.key] = option.value(recipe_config(overrides["recipe"]))
            continue
        if option.kind == TASK_LIST:
            value = _derived(value)
        elif option.kind == NUMBERS:
            value = _floats(value, option.flag)
        elif option.kind == NAMES and value is not None:
            value = tuple(s.strip() for s in value.split(",") if s.strip())
        overrides[option.key] = value
    return {**overrides, **o}
