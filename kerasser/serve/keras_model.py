"""``kerasser.load_model``: a kerasser ``.keras`` file (a run's ``best.keras``, an export's
``model.keras``, or an installed model's name) as a Keras model that also takes a bare waveform.

    model = kerasser.load_model("emodb-avde")
    model.predict(waveforms)            # [batch, n] float32 at 16 kHz (or [n]): every sample valid
    model({"waveform": w, "length": n}) # the model's own inputs, padded batches with their lengths

A bare array means every sample of each row is speech (``length`` = n); padded batches of clips
of different lengths still need the dict. TensorFlow's and absl's start-up lines are held off
stderr while loading and running the model once on a quarter second of silence. In a base install (no ``kerasser[train]``) it raises
:class:`kerasser.extras.MissingExtraError` naming the extra, not a ModuleNotFoundError.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kerasser.extras import needing_extra

WAVEFORM, LENGTH = "waveform", "length"
_CLASSES: dict[type, type] = {}
_WARM_UP_SAMPLES = 4000  # a quarter second at 16 kHz


def _as_inputs(model, x):
    """A bare waveform array ``[n]`` or ``[batch, n]`` as the inputs of ``model`` when it takes a
    waveform and its length; anything else (and any input of another model) as it is."""
    takes_waveform = isinstance(model.input, dict) and set(model.input) == {WAVEFORM, LENGTH}
    if not takes_waveform or isinstance(x, dict) or not hasattr(x, "shape") or len(x.shape) not in (1, 2):
        return x
    w = np.asarray(x, dtype=np.float32)
    w = w[None] if w.ndim == 1 else w
    return {WAVEFORM: w, LENGTH: np.full((w.shape[0],), w.shape[1], np.int32)}


def _waveform_class(cls: type) -> type:
    """``cls`` (a Keras model class) that also takes a bare waveform in ``__call__`` and
    ``predict``. Named and placed as ``cls``, so saving the model writes what ``cls`` writes."""
    if cls not in _CLASSES:
        def __call__(self, inputs, *args, **kwargs):
            return super(sub, self).__call__(_as_inputs(self, inputs), *args, **kwargs)

        def predict(self, x, *args, **kwargs):
            return super(sub, self).predict(_as_inputs(self, x), *args, **kwargs)

        sub = type(cls.__name__, (cls,), {"__call__": __call__, "predict": predict, "__module__": cls.__module__,
                                          "__qualname__": cls.__qualname__})
        _CLASSES[cls] = sub
    return _CLASSES[cls]


def load_model(path: str | os.PathLike, compile: bool = False):
    """The Keras model in ``path`` (a ``.keras`` file, an export folder, or an installed model's
    name): :func:`kerasser.model.network.load_model` (custom layers known, float32 unless ``compile``),
    callable on a bare waveform array too (module docstring)."""
    from kerasser.errors import ModelError
    from kerasser.native_output import native_stderr_silenced, quiet_python_logs

    quiet_python_logs()
    with native_stderr_silenced():
        try:  # first, so that a base install hears of the extra whatever the path
            from kerasser.model import network as keras_models
        except ModuleNotFoundError as error:
            raise needing_extra(error, "kerasser.load_model") from None
        file = Path(path).expanduser()
        if not file.is_file():
            if file.suffix == ".keras":
                raise ModelError("no such file", path=file)
            from kerasser.contract import KERAS_FILE
            from kerasser.serve.model_names import resolve_model

            file = resolve_model(path) / KERAS_FILE
        model = keras_models.load_model(file, compile=compile)
        model.__class__ = _waveform_class(model.__class__)
        if isinstance(model.input, dict) and set(model.input) == {WAVEFORM, LENGTH}:  # its first run is where TensorFlow's graph optimiser speaks
            model.predict(np.zeros(_WARM_UP_SAMPLES, np.float32), verbose=0)
    return model
