"""The step model on LiteRT: a causal model's probabilities as audio arrives, chunk by chunk.

``open_step_model(folder)`` loads an export folder's ``step.tflite`` (``kerasser.contract``: ``chunk``
and ``state`` in, ``state`` and each task's probabilities out; the metadata's ``stream`` gives the
chunk and state sizes) and keeps the state: ``push(samples)`` takes any number of samples (at the
model's rate, full scale 1.0), runs every whole chunk they complete and returns the probabilities
after each (``{task: [classes]}``, those of the stream so far); ``reset()`` starts a new stream.
No TensorFlow here (LiteRT only), as everywhere in ``kerasser.serve``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from kerasser.contract import (
    CHUNK_NAME,
    SIGNATURE_KEY,
    STATE_NAME,
    STEP_FILE,
    STEP_ROLE,
    STREAM_KEY,
    model_file,
    read_metadata,
)
from kerasser.errors import ModelError


def has_step_model(folder: str | os.PathLike) -> bool:
    """Whether the export folder ``folder`` has a step model (a causal model's; metadata ``stream``)."""
    try:
        return bool(read_metadata(folder).get(STREAM_KEY))
    except ModelError:
        return False


class StepRunner:
    """One LiteRT interpreter for a step model (``path``; ``open_step_model`` reads an export
    folder's), with the stream's state."""

    def __init__(self, path: str | os.PathLike, chunk_samples: int, state_size: int, tasks: list[str],
                 num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self.chunk_samples, self.state_size, self.tasks = int(chunk_samples), int(state_size), list(tasks)
        try:
            interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads or 1)
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"not a usable TFLite model ({error})", path=self.path) from None
        self._runner = interpreter.get_signature_runner(SIGNATURE_KEY)
        self._interpreter = interpreter
        self._lock = threading.RLock()
        self.reset()

    def raw_order(self, which: str) -> list[str]:
        """Input (``which="inputs"``) or output names in the order of the interpreter's raw tensors:
        for runtimes that do not read signatures (metadata ``stream.input_order``, ``output_order``)."""
        details = self._runner.get_input_details() if which == "inputs" else self._runner.get_output_details()
        index = {d["index"]: name for name, d in details.items()}
        raw = self._interpreter.get_input_details() if which == "inputs" else self._interpreter.get_output_details()
        return [index[d["index"]] for d in raw]

    def reset(self) -> None:
        """Start a new stream: zero state, nothing buffered."""
        self._state = np.zeros((1, self.state_size), np.float32)
        self._pending = np.zeros(0, np.float32)
        self.samples = 0  # samples run through the model so far

    def step(self, chunk: np.ndarray) -> dict[str, np.ndarray]:
        """Run one whole chunk; the probabilities of the stream so far."""
        out = self._runner(**{CHUNK_NAME: np.asarray(chunk, np.float32).reshape(1, self.chunk_samples),
                              STATE_NAME: self._state})
        self._state = out[STATE_NAME]
        self.samples += self.chunk_samples
        return {task: out[task][0] for task in self.tasks}

    def push(self, samples: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Buffer ``samples`` and run every whole chunk they complete: one result per chunk."""
        with self._lock:
            pending = np.concatenate([self._pending, np.asarray(samples, np.float32).reshape(-1)])
            whole = len(pending) // self.chunk_samples * self.chunk_samples
            results = [self.step(pending[i:i + self.chunk_samples]) for i in range(0, whole, self.chunk_samples)]
            self._pending = pending[whole:]
            return results

    def run(self, waveform: np.ndarray) -> dict[str, np.ndarray] | None:
        """A new stream of ``waveform``'s whole chunks (the rest dropped): the last probabilities,
        None when it is shorter than a chunk."""
        self.reset()
        results = self.push(waveform)
        self._pending = np.zeros(0, np.float32)
        return results[-1] if results else None


def open_step_model(folder: str | os.PathLike, num_threads: int | None = None, verify: bool | None = None) -> StepRunner:
    """The step model of the export folder ``folder`` (its SHA-256 checked as every model file's);
    ModelError naming the folder when it has none."""
    folder = Path(folder)
    metadata = read_metadata(folder)
    stream = metadata.get(STREAM_KEY)
    if not stream:
        raise ModelError("has no step model (only causal models stream: the tiny recipe)", path=folder)
    path = model_file(folder, metadata, STEP_ROLE, STEP_FILE, verify=verify)
    return StepRunner(path, stream["chunk_samples"], stream["state_size"], [t["name"] for t in metadata["tasks"]],
                      num_threads)


class SteppedModel:
    """An export's model whose ``predict`` runs the step model over the waveform (zero-padded to
    whole chunks) instead of the offline model: what ``Labeler`` takes (``tasks``, ``sample_rate``,
    ``metadata``, ``predict``). The probabilities are the offline model's on the padded waveform."""

    attention = False
    needs_reference = False

    def __init__(self, exported, runner: StepRunner):
        self.model_dir, self.metadata, self.tasks = exported.model_dir, exported.metadata, exported.tasks
        self.sample_rate, self.name = exported.sample_rate, exported.name
        self.runner = runner

    def predict(self, waveform: np.ndarray, reference=None) -> dict[str, np.ndarray]:
        wave = np.asarray(waveform, np.float32).reshape(-1)
        chunks = max(1, -(-len(wave) // self.runner.chunk_samples))
        padded = np.zeros(chunks * self.runner.chunk_samples, np.float32)
        padded[:len(wave)] = wave
        with self.runner._lock:
            return self.runner.run(padded)


def stepped(labeler):
    """``labeler`` itself, or, when its model is an export with a step model run by LiteRT (and
    it neither transcribes nor gives attention), a Labeler of the same export that labels with
    the step model (``kerasser label -``)."""
    model = labeler.model
    if (getattr(model, "backend", None) != "tflite" or labeler.transcribe or labeler.attention
            or not (getattr(model, "metadata", None) or {}).get(STREAM_KEY)):
        return labeler
    return type(labeler)(SteppedModel(model, open_step_model(model.model_dir)))
