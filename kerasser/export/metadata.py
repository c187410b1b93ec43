"""Writing metadata.json: what the model takes and gives, where it came from, how faithful each
format is. The folder layout, file names and serving contract are ``kerasser.contract``'s (which
also reads metadata.json); this module builds and writes the file. Plain Python (no TensorFlow).

Schema (format_version 1; ``null`` where a figure could not be computed)::

  format_version    1
  name              export name (default: the export folder's name)
  kerasser_version  version that wrote the export
  created           UTC time, ISO 8601
  sample_rate       16000
  frame_length      samples per frame (640 = 40 ms); frame_step: hop (160 = 10 ms)
  input             {"name": "waveform", "dtype": "float32", "shape": [1, null], "min_samples": 1, ...}
  signature         "serving_default" (SavedModel and TFLite)
  speaker_reference null, or for a speaker-normalising model {"input": "reference", "shape": [1,
                    mel_bins], "signature": "speaker_statistics", "file": "model_statistics.tflite",
                    "outputs": ["log_mel_sum", "frames"], "description"}
  text_input        null, or for a text model (``--modality``) {"input": "text", "dtype": "int32",
                    "shape": [1, null], "modality", "tokens": "characters", "vocabulary" (the
                    characters, id 2 + i), "pad": 0, "oov": 1, "max_tokens", "description"}
  stream            null, or for a causal model (the tiny recipe) its step model's {"chunk_samples",
                    "state_size", "input_order", "output_order"} (``kerasser.contract``; file role
                    tflite_step, parity entry "step")
  tasks             [{"name", "classes" (in output order), "output", "attention_output" or null}]
  attention         true when every task has a ``{task}_attention`` output
  outputs           [{"name", "dtype", "shape", "description"}] sorted by name
  files             {role: {"path", "bytes", "sha256"}} for every file written; roles: keras,
                    saved_model (a folder: bytes summed over it, and "sha256_files" {path inside
                    it: hex} instead of "sha256"), tflite_float32, and tflite_int8 /
                    tflite_float16 / tflite_dynamic when quantised, tflite_statistics for a
                    speaker-normalising model; metadata ({"path"} only). Paths are relative to
                    the folder; "sha256" is the file's SHA-256 in hex, checked when kerasser loads
                    it (``kerasser.contract``; ``refresh_digests`` records them again)
  tflite            {"output_order": output names in the order of the raw output tensors (for
                    runtimes that ignore signatures), "operators": every op in model.tflite,
                    "variants": {variant: {"ops", "weights", "activations", ...}}}
  model             the ModelConfig
  training          {"run", "corpora", "train_splits", "dev_split", "epochs", "seed", "batch_size",
                    "learning_rate", "epochs_done", "best_epoch", "best_dev_uar"}
  test              {"split", "corpora", "files", "uar": {task: %}, "mean_uar"} from the Keras model,
                    or null with "test_skipped" giving the reason
  parity            {"tolerance", "reference", "clips": {"count", "splits", "files"}, "saved_model": {...},
                    "float32": {...}, and per quantised variant {...}}; each entry has
                    "max_abs_diff" (probabilities), "max_abs_diff_attention", "argmax_agreement"
                    (fraction of clip x task pairs), "argmax_agreement_per_task",
                    "argmax_mismatches" ([{"clip", "task"}]), "passed"
                    (float formats: diff <= tolerance and every argmax equal; quantised: null);
                    quantised entries add "test_uar", "test_uar_change" (vs the float32 TFLite
                    model on the same test clips, points) and "mean_test_uar_change" (the float32
                    entry then has "test_uar" too); int8 adds "aim" and "within_aim" (every task's
                    UAR drop <= 1 point); all null/absent without a test split
"""

from __future__ import annotations

import datetime
import json
import math
import os
from pathlib import Path

from kerasser.contract import (
    FORMAT_VERSION,
    FRAMES,
    INPUT_NAME,
    LOG_MEL_SUM,
    METADATA_FILE,
    REFERENCE_NAME,
    SHA256_FILES_KEY,
    SHA256_KEY,
    SIGNATURE_KEY,
    STATISTICS_FILE,
    STATISTICS_SIGNATURE,
    TEXT_NAME,
    TRANSCRIPT_OUTPUT,
    attention_output,
    inside_folder,
    read_metadata,
    sha256_of,
)
from kerasser.progress import writer


def speaker_reference_info(model) -> dict | None:
    """What a caller needs to give a speaker-normalising model (``feature_norm="speaker"``) its
    ``reference``; None for other models."""
    if model.feature_norm != "speaker":
        return None
    return {
        "input": REFERENCE_NAME, "dtype": "float32", "shape": [1, model.mel_bins],
        "signature": STATISTICS_SIGNATURE, "file": STATISTICS_FILE, "outputs": [LOG_MEL_SUM, FRAMES],
        "description": f"the speaker's mean log mel: sum of {LOG_MEL_SUM} / sum of {FRAMES} over the "
        f"speaker's clips, each clip's from {STATISTICS_SIGNATURE} (kerasser.serve.inference.reference_of)",
    }


def text_input_info(model) -> dict | None:
    """A text model's ``text`` input (``kerasser.contract``): its tokenisation, for a labeller."""
    from kerasser.text_input import MAX_TOKENS, OOV, PAD, input_vocabulary

    vocabulary = input_vocabulary(model)
    if vocabulary is None:
        return None
    return {"input": TEXT_NAME, "dtype": "int32", "shape": [1, None], "modality": model.modality,
            "tokens": "characters", "vocabulary": list(vocabulary), "pad": PAD, "oov": OOV, "max_tokens": MAX_TOKENS,
            "description": "the transcript's characters (kerasser.text_input.encode_tokens): lower case, bracketed "
                           "annotations removed, single spaces; id 2 + i for vocabulary[i], 1 for any other "
                           "character, 0 padding; no transcript: [0] (the audio alone)"}


def transcript_info(model) -> dict:
    """What a reader of the ``transcript`` output needs: the characters and the step size."""
    from kerasser.text import ALPHABET, BLANK

    return {"output": TRANSCRIPT_OUTPUT, "alphabet": ALPHABET, "blank": BLANK,
            "frames_per_step": model.recurrent_stride, "decoding": "greedy (kerasser.text.greedy_decode)"}


def output_specs(
    tasks: list[tuple[str, tuple[str, ...]]], attention: bool, frame_length: int, frame_step: int,
    transcript: bool = False,
) -> list[dict]:
    """The serving outputs, sorted by name (the order of a flattened output dict)."""
    specs = []
    if transcript:
        from kerasser.text import NUM_CLASSES

        specs.append({
            "name": TRANSCRIPT_OUTPUT, "dtype": "float32", "shape": [1, None, NUM_CLASSES],
            "description": "per-step character log-probabilities (CTC; class 0 blank, then transcript.alphabet)",
        })
    for name, classes in tasks:
        specs.append(
            {
                "name": name,
                "dtype": "float32",
                "shape": [1, len(classes)],
                "description": f"{name} class probabilities, in the order of tasks[].classes",
            }
        )
        if attention:
            specs.append(
                {
                    "name": attention_output(name),
                    "dtype": "float32",
                    "shape": [1, None],
                    "description": f"{name} attention weight of each frame (sum 1); frames = 1 + "
                    f"ceil(max(0, samples - {frame_length}) / {frame_step})",
                }
            )
    return sorted(specs, key=lambda s: s["name"])


def file_entry(root: Path, relative: str) -> dict:
    """``{"path", "bytes", "sha256"}`` of a file under ``root``; of a folder, ``{"path", "bytes"
    (summed over it), "sha256_files": {path inside it: SHA-256}}``."""
    path = root / relative
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        return {"path": relative, "bytes": sum(p.stat().st_size for p in files),
                SHA256_FILES_KEY: {p.relative_to(path).as_posix(): sha256_of(p) for p in files}}
    return {"path": relative, "bytes": path.stat().st_size, SHA256_KEY: sha256_of(path)}


def refresh_digests(folder: str | os.PathLike, write=None) -> dict:
    """Record again the size and SHA-256 of every file metadata.json's ``files`` names in the
    export ``folder`` (they must be inside it), as ``kerasser export`` records them; entries of
    absent files are left as they are, without digests. For exports made before digests, and
    models edited on purpose. Rewrites only metadata.json; returns its new document."""
    folder = Path(folder)
    metadata = read_metadata(folder)
    for role, entry in metadata["files"].items():
        if entry["path"] == METADATA_FILE:
            continue
        path = inside_folder(folder, entry["path"], f"files.{role}.path")
        entry.pop(SHA256_KEY, None)
        entry.pop(SHA256_FILES_KEY, None)
        if path.exists():
            entry.update(file_entry(folder, entry["path"]))
        else:
            writer(write)(f"note: {path} is absent: no digest recorded for it")
    write_metadata(folder, metadata)
    return metadata


def kerasser_version() -> str:
    try:
        from kerasser import __version__

        return __version__
    except ImportError:  # kerasser imported as a bare namespace (a stale editable install)
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("kerasser")
        except PackageNotFoundError:
            return "unknown"


def build_metadata(
    *,
    name: str,
    config,
    state: dict | None,
    run_dir: str,
    files: dict[str, dict],
    tflite: dict,
    test: dict | None,
    test_skipped: str | None,
    parity: dict,
    transcript: bool = False,
) -> dict:
    """The metadata.json document. ``config`` is the run's TrainConfig, ``state`` its state.json;
    ``transcript``: the export serves the CTC head's ``transcript`` output."""
    import dataclasses

    from kerasser.text_input import frame_attention

    model = config.model
    audio = model.audio
    attention = frame_attention(model)
    tasks = [(t, model.classes(t)) for t in model.tasks]
    state = state or {}
    best_dev = state.get("best")
    return {
        "format_version": FORMAT_VERSION,
        "name": name,
        "kerasser_version": kerasser_version(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "sample_rate": audio.sample_rate,
        "frame_length": audio.frame_length,
        "frame_step": audio.frame_step,
        "input": {
            "name": INPUT_NAME,
            "dtype": "float32",
            "shape": [1, None],
            "min_samples": 1,
            "description": f"raw mono waveform at {audio.sample_rate} Hz, full scale 1.0, batch 1, "
            "any length",
        },
        "signature": SIGNATURE_KEY,
        "speaker_reference": speaker_reference_info(model),
        "text_input": text_input_info(model),
        "tasks": [
            {
                "name": t,
                "classes": list(classes),
                "output": t,
                "attention_output": attention_output(t) if attention else None,
            }
            for t, classes in tasks
        ],
        "attention": attention,
        "outputs": output_specs(tasks, attention, audio.frame_length, audio.frame_step, transcript),
        "transcript": transcript_info(model) if transcript else None,
        "files": files,
        "tflite": tflite,
        "model": dataclasses.asdict(model),
        "training": {
            "run": run_dir,
            "corpora": [list(c) for c in config.corpora],
            "train_splits": list(config.train_splits),
            "dev_split": config.dev_split,
            "epochs": config.epochs,
            "seed": config.seed,
            "batch_size": config.batch_size,
            "learning_rate": config.learning_rate,
            "epochs_done": state.get("epoch"),
            "best_epoch": state.get("best_epoch"),
            "best_dev_uar": best_dev if isinstance(best_dev, (int, float)) and best_dev == best_dev else None,
            "ensemble": state.get("members"),
        },
        "test": test,
        "test_skipped": test_skipped,
        "parity": parity,
    }


def json_safe(value):
    """``value`` with NaN/inf floats as None and NumPy scalars and tuples as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # NumPy scalar
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_metadata(folder: Path, metadata: dict) -> Path:
    """metadata.json in ``folder``, written beside and renamed into place."""
    path = Path(folder) / METADATA_FILE
    partial = path.with_name(f".{METADATA_FILE}.{os.getpid()}.tmp")
    partial.write_text(json.dumps(json_safe(metadata), indent=2, allow_nan=False) + "\n")
    os.replace(partial, path)
    return path
