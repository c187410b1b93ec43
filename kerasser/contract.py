"""The export contract, stated once: what an export folder holds and what its models take and give.

Plain Python (no TensorFlow), so the LiteRT runtime (``kerasser.inference``) and the exporter
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

All preprocessing (standardisation, framing, features) is inside the graph.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

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
STATISTICS_SIGNATURE = "speaker_statistics"
STATISTICS_FILE = "model_statistics.tflite"
STATISTICS_ROLE = "tflite_statistics"  # its metadata ``files`` role
LOG_MEL_SUM = "log_mel_sum"  # the statistics' outputs
FRAMES = "frames"
TRANSCRIPT_OUTPUT = "transcript"


def attention_output(task: str) -> str:
    """The name of ``task``'s attention output."""
    return f"{task}_attention"


def tflite_role(variant: str) -> str:
    """The metadata ``files`` role of a TFLite variant."""
    return f"tflite_{variant}"


def frames(samples: int, frame_length: int, frame_step: int) -> int:
    """Attention frames of a waveform of ``samples`` samples (see the serving contract)."""
    return 1 + -(-max(0, samples - frame_length) // frame_step)


def read_metadata(model_dir: str | os.PathLike) -> dict:
    """The metadata of an export folder; ModelError naming the file when it is missing,
    unreadable or of a newer format."""
    path = Path(model_dir) / METADATA_FILE
    if not path.is_file():
        raise ModelError("no such file (not a kerasser export folder?)", path=path)
    try:
        metadata = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"unreadable metadata ({error})", path=path) from None
    version = metadata.get("format_version") if isinstance(metadata, dict) else None
    if not isinstance(version, int) or version < 1:
        raise ModelError("no valid format_version", path=path)
    if version > FORMAT_VERSION:
        raise ModelError(
            f"export format {version} is newer than this kerasser reads ({FORMAT_VERSION}); upgrade kerasser",
            path=path,
        )
    return metadata
