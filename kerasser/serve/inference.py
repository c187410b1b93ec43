"""Run an exported model (``kerasser export``) on waveforms.

    model = load_exported(default_model_dir())          # TFLite, float32
    out = model.predict(waveform)                       # 1-D float32 at model.sample_rate
    out["arousal"]            -> probabilities [classes], classes as in model.tasks
    out["arousal_attention"]  -> attention weights [frames] (attention models only)

A speaker-normalising model (``model.needs_reference``) also takes its speaker's reference:
``model.predict(waveform, reference=reference_of([model.statistics(w) for w in speaker_clips]))``;
without one, the clip's own statistics make it (a speaker with one clip).

A text model (``model.reads_text``: trained ``--modality audio+text`` or ``text``) also takes the
clip's transcript: ``model.predict(waveform, text="what was said")``, tokenised here with the
vocabulary its metadata stores (``kerasser.text_input``); without one it predicts from the audio alone.

The TFLite backend needs only NumPy and ``ai_edge_litert`` (the LiteRT runtime): this module
imports no TensorFlow at module level, and the TFLite path never imports it. The Keras backend
loads ``model.keras`` and imports TensorFlow when it is created.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import numpy as np

from kerasser.contract import (
    FRAMES,
    INPUT_NAME,
    KERAS_FILE,
    LOG_MEL_SUM,
    REFERENCE_NAME,
    SIGNATURE_KEY,
    STATISTICS_FILE,
    STATISTICS_ROLE,
    TEXT_NAME,
    TFLITE_FILES,
    VARIANTS,
    VERIFY_ENV,
    model_file,
    read_metadata,
    tflite_role,
)
from kerasser.errors import ModelError, SettingsError
from kerasser.serve.model_names import MODEL_ENV, resolve_model  # noqa: F401 (MODEL_ENV re-exported)
from kerasser.text_input import TEXT_INPUT, encode_tokens, serving_tokens

BACKENDS = ("tflite", "keras")


def default_model_dir() -> Path:
    """The default model folder: ``$KERASSER_MODEL`` (a folder or an installed model's name) if
    set; else ``<repo>/exported/emodb-avde`` in a source checkout or editable install (where
    ``kerasser export`` builds it); else the copy an installed package carries
    (``kerasser.serve.shipped``). ModelError naming the path if none exists
    (:func:`kerasser.serve.model_names.resolve_model`)."""
    return resolve_model(None)


def reference_of(statistics) -> np.ndarray:
    """A speaker's reference from its clips' statistics (``ExportedModel.statistics`` of each:
    ``(log_mel_sum, frames)``): the sum of the sums over the sum of the frames (float32)."""
    statistics = list(statistics)
    if not statistics:
        raise SettingsError("a speaker reference needs the statistics of at least one clip")
    total = np.sum([np.asarray(s, np.float64) for s, _ in statistics], axis=0)
    frames = float(np.sum([float(f) for _, f in statistics]))
    return (total / max(frames, 1.0)).astype(np.float32)


def _reference(reference, features: int | None) -> np.ndarray | None:
    """``reference`` as float32 [features], checked against a model that takes one (``features``
    its size) or none (``features`` None: ``reference`` must be None too)."""
    if (reference is None) != (features is None):
        raise SettingsError("this model takes a speaker reference beside the waveform" if reference is None
                            else "this model takes no speaker reference")
    if reference is None:
        return None
    r = np.asarray(reference, dtype=np.float32)
    if r.shape != (features,):
        raise SettingsError(f"expected a reference of shape ({features},), got {r.shape}")
    return np.ascontiguousarray(r)


def _text_row(text, takes_text: bool) -> np.ndarray | None:
    """Token ids as a text model's ``text`` row (``[PAD]`` for none: no transcript), or None for a
    model without a text input (SettingsError if ``text`` was given to it)."""
    if not takes_text:
        if text is not None:
            raise SettingsError("this model takes no text (train with --modality audio+text for one that does)")
        return None
    return serving_tokens(np.zeros(0, np.int32) if text is None else np.asarray(text))


def _waveform(waveform) -> np.ndarray:
    w = np.asarray(waveform)
    if w.ndim != 1:
        raise SettingsError(f"expected a 1-D waveform (mono samples), got shape {w.shape}")
    if w.size == 0:
        raise SettingsError("expected at least one sample, got an empty waveform")
    if not np.issubdtype(w.dtype, np.floating):
        raise SettingsError(f"expected float samples (full scale 1.0), got {w.dtype}")
    return np.ascontiguousarray(w, dtype=np.float32)


class TFLiteRunner:
    """One LiteRT interpreter for a kerasser ``.tflite`` file, reused across calls: each call
    resizes the ``waveform`` input to [1, N] (only when N changes), runs it and returns
    ``{output name: array without the batch axis}``. Outputs are named by the model's
    ``serving_default`` signature, or by ``output_order`` for a model without one. Thread-safe
    (calls are serialised). A speaker-normalising model's runner also takes ``reference``
    [``reference_features``]; a text model's (``takes_text``) ``text`` token ids [T]."""

    _reference: int | None = None
    reference_features: int | None = None
    _text: int | None = None

    def __init__(
        self, path: str | os.PathLike, output_order: list[str] | None = None, num_threads: int | None = None
    ):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise ImportError(
                "the TFLite backend needs the LiteRT runtime: pip install ai-edge-litert"
            ) from None
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError("no such file", path=self.path)
        # LiteRT's default is one thread; every core labels a clip faster (label_speed.txt).
        threads = num_threads or os.cpu_count() or 1
        try:
            self._interpreter = Interpreter(model_path=str(self.path), num_threads=threads)
        except (ValueError, RuntimeError) as error:  # LiteRT's words for a file it cannot map
            raise ModelError(f"not a usable TFLite model ({error})", path=self.path) from None
        self._lock = threading.Lock()
        try:
            self._bind(output_order)
        except (ValueError, RuntimeError, KeyError, IndexError) as error:  # a damaged file that LiteRT mapped
            reason = f"not a usable TFLite model ({type(error).__name__}: {error})"
            raise ModelError(reason, path=self.path) from None
        self._length = None

    def _bind(self, output_order: list[str] | None) -> None:
        """Find the input and output tensors (by signature, else by ``output_order``)."""
        signatures = self._interpreter.get_signature_list()
        if SIGNATURE_KEY in signatures:
            runner = self._interpreter.get_signature_runner(SIGNATURE_KEY)
            inputs = runner.get_input_details()
            self._input = inputs[INPUT_NAME]["index"]
            if REFERENCE_NAME in inputs:
                self._reference = inputs[REFERENCE_NAME]["index"]
                self.reference_features = int(inputs[REFERENCE_NAME]["shape"][-1])
            if TEXT_NAME in inputs:
                self._text = inputs[TEXT_NAME]["index"]
            self._outputs = {name: d["index"] for name, d in runner.get_output_details().items()}
        else:
            if output_order is None:
                raise ModelError(f"no {SIGNATURE_KEY} signature and no output order given", path=self.path)
            self._input = self._interpreter.get_input_details()[0]["index"]
            details = self._interpreter.get_output_details()
            if len(details) != len(output_order):
                raise ModelError(
                    f"{len(details)} outputs, but the metadata names {len(output_order)}", path=self.path
                )
            self._outputs = {name: d["index"] for name, d in zip(output_order, details)}

    @property
    def takes_text(self) -> bool:
        return self._text is not None

    @property
    def output_names(self) -> list[str]:
        return sorted(self._outputs)

    def raw_output_order(self) -> list[str]:
        """Output names in the order of the interpreter's raw output tensors. Outputs the converter
        merged into one tensor (a read-out task's attention is its source head's) are listed at that
        tensor's positions one name each, in signature order, so every name appears once."""
        names_of: dict[int, list[str]] = {}
        for name, index in self._outputs.items():
            names_of.setdefault(index, []).append(name)
        order = []
        for detail in self._interpreter.get_output_details():
            names = names_of[detail["index"]]
            order.append(names.pop(0) if len(names) > 1 else names[0])
        return order

    def __call__(self, waveform: np.ndarray, reference: np.ndarray | None = None,
                 text: np.ndarray | None = None) -> dict[str, np.ndarray]:
        w = _waveform(waveform)
        r = _reference(reference, self.reference_features)
        t = _text_row(text, self.takes_text)
        with self._lock:
            lengths = (w.shape[0], None if t is None else t.shape[0])
            if self._length != lengths:
                self._interpreter.resize_tensor_input(self._input, [1, w.shape[0]], strict=False)
                if t is not None:
                    self._interpreter.resize_tensor_input(self._text, [1, t.shape[0]], strict=False)
                self._interpreter.allocate_tensors()
                self._length = lengths
            self._interpreter.set_tensor(self._input, w[None])
            if r is not None:
                self._interpreter.set_tensor(self._reference, r[None])
            if t is not None:
                self._interpreter.set_tensor(self._text, t[None])
            self._interpreter.invoke()
            get = self._interpreter.get_tensor
            return {name: np.array(get(index)[0]) for name, index in self._outputs.items()}


class KerasRunner:
    """``model.keras`` with attention outputs added, called with ``length`` = the waveform's
    length (traced once for [1, any length]); same outputs as ``TFLiteRunner`` (and, for a
    speaker-normalising model, the same ``reference`` input and a ``statistics`` function).
    Imports TensorFlow."""

    def __init__(self, path: str | os.PathLike):
        import keras
        import tensorflow as tf

        import kerasser.model.layers  # noqa: F401  (registers the custom layers)
        from kerasser.model.network import REFERENCE, with_attention_outputs
        from kerasser.model.speaker_reference import statistics_model

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError("no such file", path=self.path)
        try:
            loaded = keras.saving.load_model(self.path, compile=False)
        except (ValueError, OSError, TypeError) as error:  # Keras' words for a file it cannot read
            raise ModelError(f"not a loadable Keras model ({error})", path=self.path) from None
        model = with_attention_outputs(loaded)
        spec = {"waveform": tf.TensorSpec([1, None], tf.float32), "length": tf.TensorSpec([1], tf.int32)}
        self.reference_features = None
        if REFERENCE in loaded.input:
            self.reference_features = int(loaded.input[REFERENCE].shape[-1])
            stats = statistics_model(loaded)
            self._statistics = tf.function(lambda inputs: stats(inputs, training=False), input_signature=[spec])
            spec = {**spec, REFERENCE: tf.TensorSpec([1, self.reference_features], tf.float32)}
        self.takes_text = TEXT_INPUT in loaded.input
        if self.takes_text:
            spec = {**spec, TEXT_INPUT: tf.TensorSpec([1, None], tf.int32)}
        self._model = model
        self._call = tf.function(lambda inputs: model(inputs, training=False), input_signature=[spec])

    def __call__(self, waveform: np.ndarray, reference: np.ndarray | None = None,
                 text: np.ndarray | None = None) -> dict[str, np.ndarray]:
        w = _waveform(waveform)
        r = _reference(reference, self.reference_features)
        t = _text_row(text, self.takes_text)
        inputs = {"waveform": w[None], "length": np.array([w.shape[0]], np.int32)}
        if r is not None:
            inputs[REFERENCE_NAME] = r[None]
        if t is not None:
            inputs[TEXT_NAME] = t[None]
        out = self._call(inputs)
        return {name: np.asarray(value)[0] for name, value in out.items()}

    def statistics(self, waveform: np.ndarray) -> dict[str, np.ndarray]:
        """A speaker-normalising model's ``log_mel_sum`` [mel_bins] and ``frames`` [] of one clip."""
        w = _waveform(waveform)
        out = self._statistics({"waveform": w[None], "length": np.array([w.shape[0]], np.int32)})
        return {name: np.asarray(value)[0] for name, value in out.items()}


class ExportedModel:
    """A loaded export. ``metadata`` is its metadata.json, ``tasks`` a list of ``(task, classes)``
    in output order, ``sample_rate`` the rate ``predict`` expects (16000)."""

    def __init__(self, model_dir: Path, metadata: dict, backend: str, variant: str, runner, statistics=None):
        self.model_dir = model_dir
        self.metadata = metadata
        self.backend = backend
        self.variant = variant
        self.sample_rate: int = int(metadata["sample_rate"])
        self.tasks: list[tuple[str, tuple[str, ...]]] = [
            (t["name"], tuple(t["classes"])) for t in metadata["tasks"]
        ]
        self.attention: bool = bool(metadata.get("attention"))
        self.name: str = metadata.get("name", model_dir.name)
        self.needs_reference: bool = statistics is not None
        text_input = metadata.get("text_input") or {}
        self.text_vocabulary: tuple[str, ...] | None = (tuple(text_input.get("vocabulary", ()))
                                                         if getattr(runner, "takes_text", False) else None)
        self.reads_text: bool = self.text_vocabulary is not None
        self._runner = runner
        self._statistics = statistics

    def statistics(self, waveform: np.ndarray) -> tuple[np.ndarray, float]:
        """A speaker-normalising model's statistics of one clip: ``(log_mel_sum [mel_bins],
        frames)``; ``reference_of`` turns a speaker's clips' statistics into its reference."""
        if self._statistics is None:
            raise SettingsError("this model takes no speaker reference (it normalises each clip by itself)")
        out = self._statistics(waveform)
        return np.asarray(out[LOG_MEL_SUM], np.float32), float(np.asarray(out[FRAMES]).reshape(()))

    def tokens(self, text: str | None) -> np.ndarray:
        """A text model's ``text`` input for a transcript (``[0]`` for none: the audio alone)."""
        if self.text_vocabulary is None:
            raise SettingsError("this model takes no text (train with --modality audio+text for one that does)")
        return serving_tokens(encode_tokens(text, self.text_vocabulary))

    def predict(self, waveform: np.ndarray, reference: np.ndarray | None = None,
                text: str | None = None) -> dict[str, np.ndarray]:
        """``waveform``: 1-D float32 samples at ``sample_rate`` (mono, full scale 1.0, at least
        one sample). Returns ``{task: probabilities [classes]}`` and, for attention models,
        ``{task}_attention: [frames]`` (float32). ``reference``: a speaker-normalising model's
        speaker reference (default: the clip's own, from ``statistics(waveform)``); an error for
        other models. ``text``: a text model's transcript of the clip (default: none, the audio
        alone); an error for other models."""
        if self.needs_reference and reference is None:
            reference = reference_of([self.statistics(waveform)])
        extra = {"text": self.tokens(text)} if self.reads_text else {}
        if text is not None and not self.reads_text:
            raise SettingsError("this model takes no text (train with --modality audio+text for one that does)")
        return self._runner(waveform, reference, **extra) if reference is not None else self._runner(waveform, **extra)

    def __repr__(self) -> str:
        tasks = [t for t, _ in self.tasks]
        return f"ExportedModel({self.name!r}, {self.backend}, {self.variant}, tasks={tasks})"


def load_exported(
    model_dir: str | os.PathLike | None = None,
    backend: str = "tflite",
    variant: str = "float32",
    *,
    num_threads: int | None = None,
    verify: bool | None = None,
) -> ExportedModel:
    """Load an export folder or an installed model by name (``None``: ``default_model_dir()``).

    ``backend="tflite"`` runs ``model.tflite`` (or ``model_<variant>.tflite``) with LiteRT;
    ``backend="keras"`` runs ``model.keras`` (float32 only) with TensorFlow. Missing, unreadable,
    malformed or newer-format folders and files raise ModelError naming the path, and so does a
    model file whose SHA-256 is not the one metadata.json records (``verify=False``, or
    ``$KERASSER_VERIFY_MODEL=0`` when ``verify`` is None, skips that check; ``kerasser.contract``)."""
    if backend not in BACKENDS:
        raise SettingsError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if variant not in VARIANTS:
        raise SettingsError(f"unknown variant {variant!r}; expected one of {', '.join(VARIANTS)}")
    root = resolve_model(model_dir)
    metadata = read_metadata(root)
    if backend == "keras":
        if variant != "float32":
            raise SettingsError(f"the keras backend runs the float32 model only, not {variant!r}")
        runner = KerasRunner(model_file(root, metadata, "keras", KERAS_FILE, verify=verify))
        statistics = runner.statistics if runner.reference_features is not None else None
    else:
        hint = f" (export with --quantize {variant} to make it)" if variant != "float32" else ""
        path = model_file(root, metadata, tflite_role(variant), TFLITE_FILES[variant], verify=verify,
                          missing=f"no such file{hint}")
        runner = TFLiteRunner(path, metadata.get("tflite", {}).get("output_order"), num_threads=num_threads)
        missing = [t["name"] for t in metadata["tasks"] if t["name"] not in runner.output_names]
        if missing:  # a model file from another export, or a metadata.json of another model
            raise ModelError(
                f"has no output for {', '.join(missing)}, which metadata.json lists (outputs: "
                f"{', '.join(runner.output_names)}); the model file and metadata.json do not belong together",
                path=path,
            )
        statistics = None
        if runner.reference_features is not None:  # a speaker-normalising model
            path = model_file(root, metadata, STATISTICS_ROLE, STATISTICS_FILE, verify=verify)
            statistics = TFLiteRunner(path, num_threads=num_threads)
    return ExportedModel(root, metadata, backend, variant, runner, statistics)


@contextlib.contextmanager
def unverified_models():
    """Within: exported model files load without their SHA-256 check (``$KERASSER_VERIFY_MODEL=0``,
    which processes started inside inherit), for models edited on purpose; restored after."""
    before = os.environ.get(VERIFY_ENV)
    os.environ[VERIFY_ENV] = "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(VERIFY_ENV, None)
        else:
            os.environ[VERIFY_ENV] = before
