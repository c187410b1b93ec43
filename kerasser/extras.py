"""Optional extras (setup.cfg's ``extras_require``): which one provides a missing module, and the
error that says so. A base install labels with LiteRT only; training, evaluation, export and the
Keras model need ``kerasser[train]``."""

from __future__ import annotations

from kerasser.errors import KerasserError

# Top-level modules of the ``train`` extra: a base install lacks them.
TRAIN_EXTRA_MODULES = frozenset({"tensorflow", "keras", "sklearn", "scipy", "keras_tuner", "matplotlib", "tf_keras_vis"})


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """The extra that provides the module ``error`` says is missing, or None if no extra does."""
    return "train" if (error.name or "").split(".")[0] in TRAIN_EXTRA_MODULES else None


class MissingExtraError(KerasserError, ImportError):
    """A call needs an optional extra this install lacks: one line naming the module and the
    ``pip install`` that adds it (an ImportError too, so ``except ImportError`` still catches it)."""

    def __init__(self, what: str, module: str, extra: str) -> None:
        super().__init__(f"{what} needs {module}, which this install lacks: pip install 'kerasser[{extra}]' "
                         "(the base install labels with LiteRT only)")
        self.module, self.extra = module, extra


def needing_extra(error: ModuleNotFoundError, what: str) -> BaseException:
    """``error`` as a :class:`MissingExtraError` when an extra provides its module, else itself."""
    extra = missing_extra(error)
    return error if extra is None else MissingExtraError(what, (error.name or "").split(".")[0], extra)
