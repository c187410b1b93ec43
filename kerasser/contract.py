"""The export contract, stated once: what an export folder holds and what its models take and give.

Plain Python (no TensorFlow), so the LiteRT runtime (``kerasser.serve.inference``) and the exporter
(``kerasser.export``) share it. Everything else that describes an export points here.

Folder layout (``kerasser export RUN --out DIR``)::

  model.keras            the Keras model (graph and weights, no optimizer state)
  MODEL_CARD.md          what the model does, its data, test UAR and limits
  saved_model/           SavedModel
  model.tflite           float32 TFLite, TFLITE_BUILTINS ops only (plain LiteRT runs it)
  model_int8.tflite      with --quantize int8: full-integer weights and activations, float32 I/O
  model_float16.tflite   with --quantize float16: float16 weights
  model_dynamic.tflite   with --quantize dynamic: int8 weights, float activations
  model_statistics.tflite  speaker-normalising models only: the speaker_statistics signature in float32
  step.tflite            causal models only (the tiny recipe): the step model, float32 (below)
  metadata.json          the schema in ``kerasser.export.metadata``; ``read_metadata`` here

Serving contract (SavedModel and every TFLite variant, signature ``serving_default``):

  input   ``waveform`` float32 [1, N]: raw mono waveform at metadata ``sample_rate`` (16 kHz),
          full scale 1.0, any N >= 1; the whole row is the utterance (on TFLite, resize the input
          tensor per utterance);
  outputs ``{task}`` float32 [1, classes]: class probabilities, in the order of the metadata's
          ``tasks[].classes``;
          ``{task}_attention`` float32 [1, frames] for attention models: one attention weight per
          frame (sum 1), ``frames = 1 + ceil(max(0, N - frame_length) / frame_step)`` with the
          metadata's ``frame_length`` and ``frame_step``;
          ``transcript`` float32 [1, steps, characters], only in exports made ``--with-transcript``
          of models trained with a CTC weight: per-step character log-probabilities (class 0 the
          CTC blank, then metadata ``transcript.alphabet``), one step per
          ``transcript.frames_per_step`` frames; ``kerasser.text.greedy_decode`` reads it.

Speaker-normalising models (trained ``--feature-norm speaker``; metadata ``speaker_reference``
not null) take a second input, and have a second function that makes it:

  input   ``reference`` float32 [1, mel_bins] beside ``waveform``: the speaker's mean log mel
          vector, sum(log_mel_sum) / sum(frames) over that speaker's clips;
  ``speaker_statistics`` (a second SavedModel signature; ``model_statistics.tflite``, float32,
          whatever the serving variant): ``waveform`` [1, N] -> ``log_mel_sum`` float32
          [1, mel_bins] (the clip's log mel summed over its frames) and ``frames`` float32 [1].
          A clip's own reference (``log_mel_sum / frames``) is what a speaker with one clip gets;
          the model is trained for references over many clips (``benchmarks/reference_clips.py``).

Text models (trained ``--modality audio+text`` or ``text``; metadata ``text_input`` not null) take
the transcript beside the waveform:

  input   ``text`` int32 [1, T]: the transcript's token ids, ``kerasser.text_input.encode_tokens``
          with metadata ``text_input.vocabulary`` (lower case, bracketed annotations removed,
          white space made single spaces; id 0 padding, 1 a character not in the vocabulary,
          2 + i the vocabulary's i-th character; at most ``text_input.max_tokens``); no transcript
          is ``[0]`` (T = 1, masked): the model then predicts from the audio alone. On TFLite,
          resize the input per utterance as for ``waveform``.

Causal models (trained ``--causal``, the ``tiny`` recipe; metadata ``stream`` not null) also have a
step model (``step.tflite``, signature ``serving_default``; ``kerasser.export.streaming``):

  inputs  ``chunk`` float32 [1, stream.chunk_samples]: the next samples of a stream (as ``waveform``);
          ``state`` float32 [1, stream.state_size]: zeros at the start, then the last call's state;
  outputs ``state`` float32 [1, stream.state_size]: the state to pass with the next chunk;
          ``{task}`` float32 [1, classes]: the probabilities of the stream so far. After the chunks
          of a clip of a whole number of chunks they are the offline model's on that clip.

All preprocessing (standardisation, framing, features) is inside the graph; the text's
tokenisation is not (plain Python: ``kerasser.text_input``, stored vocabulary).

Integrity (``read_metadata``, ``model_file``): metadata.json must be a JSON object of at most
``MAX_METADATA_BYTES``, nested at most ``MAX_METADATA_DEPTH`` deep, with finite numbers and the
keys and types ``check_metadata`` lists; its ``files`` entries name paths inside the folder
(relative, no ``..``; a symbolic link may not lead out of it). Each file entry records the file's
``sha256`` (hex), and the SavedModel's entry ``sha256_files`` ({path inside saved_model/: hex}, for
its users; kerasser never loads it). Loading a model file hashes that file alone and refuses it
when the digest differs, or when metadata.json records none (an export made before digests:
``kerasser.export.metadata.refresh_digests`` records them); ``verify=False`` or
``$KERASSER_VERIFY_MODEL=0`` skips the check, for models edited on purpose. Every refusal is a
``ModelError`` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

from kerasser.errors import ModelError

FORMAT_VERSION = 1
METADATA_FILE = "metadata.json"
KERAS_FILE = "model.keras"
SAVED_MODEL_DIR = "saved_model"
MODEL_CARD_FILE = "MODEL_CARD.md"
TFLITE_FILES = {
    "float32": "model.tflite",
    "int8": "model_int8.tflite",
    "float16": "model_float16.tflite",
    "dynamic": "model_dynamic.tflite",
}
VARIANTS = tuple(TFLITE_FILES)
QUANTIZATIONS = ("int8", "float16", "dynamic")
SIGNATURE_KEY = "serving_default"
INPUT_NAME = "waveform"
REFERENCE_NAME = "reference"  # speaker-normalising models' second input
TEXT_NAME = "text"  # text models' second input: the transcript's token ids (kerasser.text_input)
STATISTICS_SIGNATURE = "speaker_statistics"
STATISTICS_FILE = "model_statistics.tflite"
STATISTICS_ROLE = "tflite_statistics"  # its metadata ``files`` role
LOG_MEL_SUM = "log_mel_sum"  # the statistics' outputs
FRAMES = "frames"
TRANSCRIPT_OUTPUT = "transcript"
STEP_FILE = "step.tflite"  # causal models' step model
STEP_ROLE = "tflite_step"  # its metadata ``files`` role
STREAM_KEY = "stream"  # metadata: {"chunk_samples", "state_size"} of the step model, or null
CHUNK_NAME = "chunk"  # the step model's inputs (and STATE_NAME its output too)
STATE_NAME = "state"
SHA256_KEY = "sha256"  # a file entry's digest (hex); a folder entry's are in SHA256_FILES_KEY
SHA256_FILES_KEY = "sha256_files"
VERIFY_ENV = "KERASSER_VERIFY_MODEL"  # "0": load model files without checking their SHA-256
MAX_METADATA_BYTES = 1 << 20  # the shipped model's is 9 kB
MAX_METADATA_DEPTH = 32  # the shipped model's is 4
SAMPLE_RATES = (1000, 384000)  # the sample rates a metadata.json may give


def attention_output(task: str) -> str:
    """The name of ``task``'s attention output."""
    return f"{task}_attention"


def tflite_role(variant: str) -> str:
    """The metadata ``files`` role of a TFLite variant."""
    return f"tflite_{variant}"


def read_metadata(model_dir: str | os.PathLike) -> dict:
    """The metadata of an export folder, checked (``check_metadata``); ModelError naming the file
    when it is missing, unreadable, malformed or of a newer format."""
    path = Path(model_dir) / METADATA_FILE
    if not path.is_file():
        raise ModelError("no such file (not a kerasser export folder?)", path=path)
    try:
        with open(path, "rb") as f:
            content = f.read(MAX_METADATA_BYTES + 1)
        if len(content) > MAX_METADATA_BYTES:
            raise ModelError(f"malformed metadata (over {MAX_METADATA_BYTES} bytes)", path=path)
        metadata = json.loads(content)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"unreadable metadata ({error})", path=path) from None
    except ValueError:  # what else json.loads raises: an integer of over 4300 digits
        raise ModelError("malformed metadata (a number too long to read)", path=path) from None
    except RecursionError:
        reason = f"malformed metadata (nested deeper than {MAX_METADATA_DEPTH} levels)"
        raise ModelError(reason, path=path) from None
    return check_metadata(metadata, path)


def verifying(verify: bool | None = None) -> bool:
    """Whether to check model files' SHA-256: ``verify``; when None, unless ``$KERASSER_VERIFY_MODEL=0``."""
    return os.environ.get(VERIFY_ENV, "").strip() != "0" if verify is None else bool(verify)


def sha256_of(path: str | os.PathLike) -> str:
    """The SHA-256 of a file's bytes, hex (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def inside_folder(root: Path, relative, where: str) -> Path:
    """``root / relative``, or ModelError when metadata.json's name ``relative`` (at ``where`` in
    it) leads out of the folder ``root``: absolute, with ``..``, or through a symbolic link."""
    _check_name(relative, where, root / METADATA_FILE)
    path = root / relative
    try:
        real = path.resolve()
        inside = real.is_relative_to(root.resolve())
    except (OSError, RuntimeError) as error:  # a symbolic link loop
        raise ModelError(f"cannot be resolved ({error})", path=path) from None
    if not inside:
        raise ModelError(f"is a symbolic link out of the model folder (to {real})", path=path)
    return path


def model_file(
    root: str | os.PathLike, metadata: dict, role: str, default: str, *, verify: bool | None = None,
    missing: str = "no such file",
) -> Path:
    """The file of ``role`` in the export folder ``root``: its metadata ``files`` entry's path, else
    ``default``. ModelError naming the file when it is not inside the folder (a symbolic link out of
    it), does not exist (``missing``), or, with ``verifying(verify)``, its SHA-256 is not the one
    metadata.json records (or none is recorded)."""
    root = Path(root)
    entry = metadata.get("files", {}).get(role) or {}
    relative = entry.get("path", default)
    path = inside_folder(root, relative, f"files.{role}.path")
    if not path.is_file():
        raise ModelError(missing, path=path)
    if not verifying(verify):
        return path
    expected = entry.get(SHA256_KEY)
    if expected is None:
        raise ModelError(
            f"records no SHA-256 for {relative} (an export made before kerasser recorded them), so it "
            "cannot be checked: if the files are as exported, record them with "
            "kerasser.export.metadata.refresh_digests; or skip the check "
            f"({VERIFY_ENV}=0, kerasser label --no-verify-model)",
            path=root / METADATA_FILE,
        )
    try:
        actual = sha256_of(path)
    except OSError as error:
        raise ModelError(f"cannot read ({error.strerror or error})", path=path) from None
    if actual != expected:
        raise ModelError(
            f"does not match the SHA-256 recorded in {METADATA_FILE}: the file was changed or damaged "
            f"(to load it anyway: {VERIFY_ENV}=0, kerasser label --no-verify-model)",
            path=path,
        )
    return path


# --- checking metadata.json's structure ----------------------------------------------------------

_HEX = re.compile(r"[0-9a-f]{64}")
_MAX_INT = 2**63


class _Malformed(Exception):
    pass


def _kind(value) -> str:
    """What a JSON value is, for messages (never the value itself, which may be huge or nested)."""
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        text = repr(value)
        return text if len(text) <= 24 else f"a number of {len(text)} digits"
    return {str: "a string", list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _check_bounds(document) -> None:
    """Nesting at most MAX_METADATA_DEPTH deep, finite floats, integers below 2**63."""
    stack = [(document, 1, "")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_METADATA_DEPTH:
                top = where[1:].split(".")[0].split("[")[0]
                raise _Malformed(f"nested deeper than {MAX_METADATA_DEPTH} levels (in {top})")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            stack.extend((v, depth + 1, f"{where}.{k}" if isinstance(k, str) else f"{where}[{k}]")
                         for k, v in items)
        elif isinstance(value, float) and not math.isfinite(value):
            raise _Malformed(f"{where.lstrip('.')} is {value!r}, not a finite number")
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _MAX_INT:
            raise _Malformed(f"{where.lstrip('.')} is {_kind(value)}, out of range")


def _get(document: dict, key: str, where: str, kinds, required: bool = True):
    if key not in document:
        if required:
            raise _Malformed(f"no {where}{key}")
        return None
    value = document[key]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = " or ".join({int: "an integer", str: "a string", list: "a list", dict: "an object",
                             bool: "true or false", type(None): "null"}[k] for k in kinds)
        raise _Malformed(f"{where}{key} must be {names}, not {_kind(value)}")
    return value


def _name(value, where: str) -> str:
    if not isinstance(value, str) or not value or not value.isprintable():
        raise _Malformed(f"{where} must be a non-empty printable string, not {_kind(value)}")
    return value


def _check_name(name, where: str, path: Path) -> None:
    """ModelError naming ``path`` (metadata.json) unless ``name`` is a relative path inside the
    folder: not absolute, no ``..``, no backslash or drive."""
    if not isinstance(name, str) or not name.strip() or not name.isprintable():
        raise ModelError(f"malformed metadata ({where} must be a file name, not {_kind(name)})", path=path)
    pure = PurePosixPath(name)
    if "\\" in name or pure.is_absolute() or PureWindowsPath(name).drive or ".." in pure.parts:
        raise ModelError(f"names a file outside the model folder ({where}: {name!r}); refused", path=path)


def check_metadata(metadata, path: str | os.PathLike) -> dict:
    """``metadata`` (metadata.json's parsed document at ``path``), or ModelError naming ``path``
    when it is not what an export writes: not an object; nested too deep, a non-finite or
    out-of-range number; no integer ``format_version`` (or a newer one); no ``sample_rate`` (an
    integer in SAMPLE_RATES), ``frame_length``, ``frame_step`` (positive integers), ``tasks`` (a
    non-empty list of ``{"name", "classes"}``, distinct printable names) or ``files`` (an object of
    ``{"path", "bytes", "sha256", "sha256_files"}`` entries with paths inside the folder); or
    ``name``, ``attention``, ``tflite.output_order``, ``transcript``, ``speaker_reference``,
    ``text_input`` of another type."""
    path = Path(path)
    try:
        if not isinstance(metadata, dict):
            raise _Malformed(f"expected a JSON object, got {_kind(metadata)}")
        _check_bounds(metadata)
        version = metadata.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ModelError("no valid format_version", path=path)
        if version > FORMAT_VERSION:
            raise ModelError(
                f"export format {version} is newer than this kerasser reads ({FORMAT_VERSION}); "
                "upgrade kerasser", path=path,
            )
        rate = _get(metadata, "sample_rate", "", (int,))
        if not SAMPLE_RATES[0] <= rate <= SAMPLE_RATES[1]:
            raise _Malformed(f"sample_rate {rate} is outside {SAMPLE_RATES[0]}..{SAMPLE_RATES[1]} Hz")
        for key in ("frame_length", "frame_step"):
            if _get(metadata, key, "", (int,)) < 1:
                raise _Malformed(f"{key} must be positive")
        tasks = _get(metadata, "tasks", "", (list,))
        if not tasks:
            raise _Malformed("tasks is empty")
        for i, task in enumerate(tasks):
            if not isinstance(task, dict):
                raise _Malformed(f"tasks[{i}] must be an object, not {_kind(task)}")
            _name(_get(task, "name", f"tasks[{i}].", (str,)), f"tasks[{i}].name")
            classes = _get(task, "classes", f"tasks[{i}].", (list,))
            for j, c in enumerate(classes):
                _name(c, f"tasks[{i}].classes[{j}]")
            if not classes or len(set(classes)) != len(classes):
                raise _Malformed(f"tasks[{i}].classes must be distinct names, at least one")
        if len({t["name"] for t in tasks}) != len(tasks):
            raise _Malformed("two tasks have the same name")
        _get(metadata, "name", "", (str,), required=False)
        _get(metadata, "attention", "", (bool,), required=False)
        for key in ("transcript", "speaker_reference", "text_input"):
            _get(metadata, key, "", (dict, type(None)), required=False)
        for key in ("chunk_samples", "state_size"):
            if (_get(_get(metadata, STREAM_KEY, "", (dict, type(None)), required=False) or {key: 1}, key,
                     f"{STREAM_KEY}.", (int,)) < 1):
                raise _Malformed(f"{STREAM_KEY}.{key} must be positive")
        tflite = _get(metadata, "tflite", "", (dict,), required=False) or {}
        for i, name in enumerate(_get(tflite, "output_order", "tflite.", (list,), required=False) or []):
            _name(name, f"tflite.output_order[{i}]")
        for role, entry in _get(metadata, "files", "", (dict,)).items():
            if not isinstance(entry, dict):
                raise _Malformed(f"files.{role} must be an object, not {_kind(entry)}")
            _check_name(_get(entry, "path", f"files.{role}.", (str,)), f"files.{role}.path", path)
            if (_get(entry, "bytes", f"files.{role}.", (int, type(None)), required=False) or 0) < 0:
                raise _Malformed(f"files.{role}.bytes is negative")
            digest = _get(entry, SHA256_KEY, f"files.{role}.", (str,), required=False)
            digests = _get(entry, SHA256_FILES_KEY, f"files.{role}.", (dict,), required=False) or {}
            for name, value in ([("", digest)] if digest is not None else []) + list(digests.items()):
                if name:
                    _check_name(name, f"files.{role}.{SHA256_FILES_KEY} key", path)
                if not isinstance(value, str) or not _HEX.fullmatch(value):
                    raise _Malformed(f"files.{role}.{SHA256_KEY} must be 64 lowercase hex digits, "
                                     f"not {_kind(value)}")
    except _Malformed as error:
        raise ModelError(f"malformed metadata ({error})", path=path) from None
    return metadata
