"""Labeler: an exported model as a waveform -> ``{task: {label, probabilities}}`` function.

    from kerasser import Labeler
    labeler = Labeler()                              # the shipped model, TFLite through LiteRT
    labeler = Labeler(model="emodb-avde-ensemble")   # an installed model's name, or a folder
    labeler.predict("clip.wav")
    # {"arousal": {"label": "high", "probabilities": {"low": 0.03, "mid": 0.12, "high": 0.85}}, ...}
    labeler.predict(samples, sample_rate=44100)      # [n] or [n, channels] array, any rate

A path is decoded whole with :func:`kerasser.data.audio.load`; an array is down-mixed and resampled
with :func:`kerasser.data.audio.from_array`. Walking folders, segmenting long files and writing rows
live in :mod:`kerasser.serve.labeling_files` and :mod:`kerasser.serve.writers`; the DataFrame calls
(``process_file``, ``process_folder``, ``process_signal``, ...) in :mod:`kerasser.serve.labeling_frames`.
With the TFLite backend nothing here imports TensorFlow.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from kerasser.contract import TRANSCRIPT_OUTPUT
from kerasser.data import audio
from kerasser.errors import PredictionError, SettingsError
from kerasser.extras import needing_extra
from kerasser.serve.labeling_frames import FrameCalls
from kerasser.serve.writers import ATTENTION, TEXT
from kerasser.text import greedy_decode


class Labeler(FrameCalls):
    """Per-task predictions of an exported model.

    ``model``: an installed model's name (``kerasser models``), an export folder, None (the
    default model, or ``$KERASSER_MODEL``), or a loaded model (anything with ``tasks``,
    ``sample_rate`` and ``predict(waveform) -> {task: probabilities}``, as
    :func:`kerasser.serve.inference.load_exported` returns). A name or folder is loaded with ``backend``,
    ``variant`` and ``verify`` as :meth:`load` takes them, and run once on a short signal while
    the native libraries' start-up lines (LiteRT's XNNPACK line, TensorFlow's) are held off stderr."""

    def __init__(self, model: Any = None, transcribe: bool = False, attention: bool = False, *,
                 backend: str = "tflite", variant: str = "float32", verify: bool | None = None) -> None:
        if model is None or isinstance(model, (str, os.PathLike)):
            model = _quietly_loaded(model, backend, variant, verify)
        self.model = model
        self.tasks: list[tuple[str, tuple[str, ...]]] = [(t, tuple(classes)) for t, classes in model.tasks]
        self.sample_rate: int = int(getattr(model, "sample_rate", audio.SAMPLE_RATE))
        if transcribe and not (getattr(model, "metadata", None) or {}).get("transcript"):
            raise SettingsError(
                "this model has no transcript output: export a run trained with --ctc-weight using --with-transcript"
            )
        self.transcribe = transcribe
        if attention and not self.has_attention:
            raise SettingsError("this model has no attention outputs (it pools the last GRU step, or bridge tokens)")
        self.attention = attention

    @classmethod
    def load(
        cls,
        model_dir: str | os.PathLike | None = None,
        backend: str = "tflite",
        variant: str = "float32",
        transcribe: bool = False,
        attention: bool = False,
        verify: bool | None = None,
    ) -> Labeler:
        """The exported model in ``model_dir``, a folder or an installed model's name (default:
        :func:`kerasser.serve.inference.default_model_dir`). Unlike ``Labeler(model=...)``, what the
        native libraries print is left alone (``kerasser label --verbose`` shows it).

        ``backend="tflite"`` runs ``model[_<variant>].tflite`` through LiteRT without TensorFlow;
        ``backend="keras"`` loads the Keras model. Raises ModelError for a missing or unusable folder.
        ``transcribe``: also decode the model's ``transcript`` output (exports made
        ``--with-transcript``) into ``"text"``. ``verify=False`` loads model files whose SHA-256 is
        not the one metadata.json records (default: checked unless ``$KERASSER_VERIFY_MODEL=0``).
        """
        from kerasser.serve.inference import load_exported

        try:
            model = load_exported(model_dir, backend=backend, variant=variant, verify=verify)
        except ModuleNotFoundError as error:
            raise needing_extra(error, f"the {backend} backend") from None
        return cls(model, transcribe=transcribe, attention=attention)

    @property
    def has_attention(self) -> bool:
        """True when the model gives attention weights per task (``{task}_attention`` outputs)."""
        return bool(getattr(self.model, "attention", False))

    @property
    def reads_text(self) -> bool:
        """True for a text model (``--modality audio+text`` or ``text``): it labels best given the
        clip's transcript (``text=``); without one it reads the transcript off its CTC head when it
        has one (exports made ``--with-transcript``), else predicts from the audio alone."""
        return bool(getattr(self.model, "reads_text", False))

    @property
    def needs_reference(self) -> bool:
        """True for a speaker-normalising model: it labels best given its speaker's reference
        (:meth:`statistics` of the speaker's clips, ``kerasser.serve.inference.reference_of``)."""
        return bool(getattr(self.model, "needs_reference", False))

    def statistics(self, waveform: np.ndarray):
        """A speaker-normalising model's statistics of one waveform at :attr:`sample_rate`:
        ``(log_mel_sum, frames)``; PredictionError when they are not finite (such a waveform
        must not poison its speaker's reference)."""
        wave = np.ascontiguousarray(waveform, dtype=np.float32)
        log_mel_sum, frames = self.model.statistics(wave)
        _check_output(np.asarray(log_mel_sum, dtype=np.float64), "speaker statistics", wave)
        return log_mel_sum, frames

    @property
    def frame_seconds(self) -> float:
        """Seconds between attention weights: the model's frame step (10 ms by default)."""
        step = self.metadata.get("frame_step", 160)
        return float(step) / self.sample_rate

    @property
    def metadata(self) -> dict:
        """The model's metadata.json (empty for models without one)."""
        return dict(getattr(self.model, "metadata", None) or {})

    def predict(
        self, source: str | os.PathLike | np.ndarray, sample_rate: int | None = None, attention: bool | None = None,
        reference: np.ndarray | None = None, text: str | None = None,
    ) -> dict:
        """``{task: {"label": class, "probabilities": {class: p}}}`` for an audio file or array,
        ``{"text": greedy CTC transcript}`` when the labeler transcribes, and with ``attention``
        (default: the labeler's setting) ``{"attention": {"frame_seconds": 0.01, task: [weight per
        frame]}}``: each task's attention weights over the utterance's frames (they sum to 1), frame
        ``i`` starting at ``i * frame_seconds``.

        ``source``: a path (any format libsndfile reads), or samples shaped ``[n]`` or
        ``[n, channels]`` with their ``sample_rate``. Bad audio raises :class:`kerasser.data.audio.AudioError`;
        outputs no label may be made from (non-finite, or probabilities outside [0, 1]: samples far
        past full scale, a damaged model file) raise :class:`kerasser.errors.PredictionError`.
        ``reference``: a speaker-normalising model's speaker reference (default: the clip's own).
        ``text``: a text model's transcript of the clip (see :attr:`reads_text`).
        """
        if isinstance(source, (str, os.PathLike)):
            if sample_rate is not None:
                raise SettingsError("sample_rate= is for arrays; a file's own rate is used")
            waveform = audio.load(source, sample_rate=self.sample_rate)
        else:
            if sample_rate is None:
                raise SettingsError("sample_rate= is required when predicting from an array")
            waveform = audio.from_array(source, sample_rate, target_rate=self.sample_rate)
        return self.predict_waveform(waveform, attention=attention, reference=reference, text=text)

    def predict_waveform(
        self, waveform: np.ndarray, attention: bool | None = None, reference: np.ndarray | None = None,
        text: str | None = None,
    ) -> dict:
        """Predictions for a float32 mono waveform already at :attr:`sample_rate` (see :meth:`predict`)."""
        attention = self.attention if attention is None else attention
        if attention and not self.has_attention:
            raise SettingsError("this model has no attention outputs (it pools the last GRU step, or bridge tokens)")
        wave = np.ascontiguousarray(waveform, dtype=np.float32)
        if wave.ndim != 1 or wave.shape[0] == 0:
            raise SettingsError(f"expected a non-empty 1-D waveform, got shape {wave.shape}")
        if reference is not None and not self.needs_reference:
            raise SettingsError("this model takes no speaker reference (it normalises each clip by itself)")
        outputs = self._outputs(wave, reference, text)
        result = {}
        for name, classes in self.tasks:
            probs = np.asarray(outputs[name], dtype=np.float64).reshape(-1)
            if probs.shape[0] != len(classes):
                raise SettingsError(f"model gave {probs.shape[0]} {name} probabilities, not {len(classes)}")
            _check_output(probs, f"{name} probabilities", wave, unit_range=True)
            result[name] = {
                "label": classes[int(np.argmax(probs))],
                "probabilities": {c: float(p) for c, p in zip(classes, probs)},
            }
        if self.transcribe:
            scores = np.asarray(outputs[TRANSCRIPT_OUTPUT])
            _check_output(scores, "transcript scores", wave)
            result[TEXT] = greedy_decode(scores)
        if attention:
            weights = {"frame_seconds": self.frame_seconds}
            for name, _ in self.tasks:
                if f"{name}_attention" in outputs:
                    values = np.asarray(outputs[f"{name}_attention"], dtype=np.float64).reshape(-1)
                    _check_output(values, f"{name} attention", wave)
                    weights[name] = [round(float(w), 5) for w in values]
            result[ATTENTION] = weights
        return result


    def _outputs(self, wave: np.ndarray, reference, text: str | None) -> dict:
        """The model's outputs; a text model without ``text`` reads its CTC head's transcript first
        (where it has one) and runs again with it."""
        if text is not None and not self.reads_text:
            raise SettingsError("this model takes no text (a model trained with --modality audio+text does)")
        extra = {} if reference is None else {"reference": reference}
        outputs = self.model.predict(wave, **extra, **({"text": text} if text is not None else {}))
        if self.reads_text and text is None and TRANSCRIPT_OUTPUT in outputs:
            scores = np.asarray(outputs[TRANSCRIPT_OUTPUT])
            _check_output(scores, "transcript scores", wave)
            outputs = self.model.predict(wave, **extra, text=greedy_decode(scores))
        return outputs


def _quietly_loaded(model, backend: str, variant: str, verify: bool | None):
    """:func:`kerasser.serve.inference.load_exported`, run once on a quarter second of faint noise (the
    interpreter's first run is where LiteRT announces its XNNPACK delegate), with descriptor 2
    held off stderr; a missing extra (the keras backend in a base install) said as such."""
    from kerasser.native_output import native_stderr_silenced
    from kerasser.serve.inference import load_exported

    with native_stderr_silenced():
        try:
            loaded = load_exported(model, backend=backend, variant=variant, verify=verify)
        except ModuleNotFoundError as error:
            raise needing_extra(error, f"the {backend} backend") from None
        noise = np.random.default_rng(0).normal(0.0, 1e-3, loaded.sample_rate // 4).astype(np.float32)
        loaded.predict(noise)
    return loaded


_TOLERANCE = 1e-3  # float32 softmax (and dequantised int8) outputs stray this far past 0 and 1


def _check_output(values: np.ndarray, what: str, wave: np.ndarray, unit_range: bool = False) -> None:
    """PredictionError unless ``values`` are finite (and, with ``unit_range``, within [0, 1]): a
    label argmax'ed from NaN is made up. The reason names the audio's peak when it is far past full
    scale, the usual cause (finite float samples of 1e19 overflow the log-mel front end)."""
    if not np.all(np.isfinite(values)):
        problem = f"the model gave non-finite {what}"
    elif unit_range and (values.min() < -_TOLERANCE or values.max() > 1 + _TOLERANCE):
        problem = f"the model gave {what} outside [0, 1]"
    else:
        return
    peak = float(np.max(np.abs(wave)))
    if not peak <= 1e3:
        problem += f" (the audio peaks at {peak:.3g}, full scale is 1.0)"
    raise PredictionError(problem)
