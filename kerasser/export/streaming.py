"""The step model of a causal model: the offline model run on a stream, one chunk at a time.

A model trained causal (``ModelConfig.causal``: causal convolution blocks, no GRU, no
per-utterance normalisation, attention pooling; the ``tiny`` recipe) computes each frame from the
frames before it only, so it can run chunk by chunk with a state between chunks:

- the last ``frame_length - frame_step`` standardised samples (the next frame's beginning);
- how many frames have been made (the first ``frame_length / frame_step - 1`` frames of the
  stream start before its first sample: they are not frames of the offline model, and get weight 0);
- with ``feature_norm="running"``, the sum and count of the frames so far;
- each convolution block's last ``(kernel_size - 1) * dilation_rate`` input frames;
- each task's attention pooling as an online softmax (running maximum score, sum of weights,
  weighted sums; ``AttentionPooling.step``).

``step_function(model, chunk_samples)`` is ``(chunk [1, chunk_samples], state [1, S]) -> {"state":
[1, S], task: probabilities [1, classes]}``, the probabilities those of the audio so far: after the
last chunk of a clip whose length is a whole number of chunks they equal the offline model's on
the clip, to float rounding (``tests/export/test_streaming.py``). The state is one float32 vector
(zeros to start; ``StreamLayout.size`` values) so an app keeps a single array.
``kerasser.contract`` states the step model's contract (``STEP_FILE``).
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from kerasser.contract import CHUNK_NAME, STATE_NAME
from kerasser.errors import SettingsError
from kerasser.model.layers import (
    AttentionPooling,
    ClassGrouping,
    ConvBlock,
    LogMelSpectrogram,
    RunningNormalization,
)
from kerasser.model.network import NORMALIZATION, pooling_name

# Layers that do nothing at inference, or whose work the step does itself (FramePadding: the stream's
# frames are whole, past samples are real); any other layer than these and the ones the step runs
# (standardisation, log mel, RunningNormalization, ConvBlock, AttentionPooling, heads) is refused.
_INFERENCE_IDENTITY = ("Dropout", "SpecAugment", "MixStyle", "InputLayer", "FramePadding", "Identity")


@dataclasses.dataclass(frozen=True)
class StreamLayout:
    """Where each part of the state lies in the flat state vector: ``parts`` (name, shape) in order."""

    parts: tuple[tuple[str, tuple[int, ...]], ...]

    @property
    def size(self) -> int:
        return sum(_count(shape) for _, shape in self.parts)

    def unpack(self, state: tf.Tensor) -> dict[str, tf.Tensor]:
        out, offset = {}, 0
        for name, shape in self.parts:
            n = _count(shape)
            out[name] = tf.reshape(state[:, offset:offset + n], (1, *shape))
            offset += n
        return out

    def pack(self, parts: dict[str, tf.Tensor]) -> tf.Tensor:
        return tf.concat([tf.reshape(parts[name], (1, _count(shape))) for name, shape in self.parts], axis=1)


def _count(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


@dataclasses.dataclass
class StreamParts:
    """The layers of a causal model that the step model runs, in order."""

    standardize: keras.layers.Layer
    log_mel: LogMelSpectrogram
    blocks: list[ConvBlock]
    pooling: dict[str, AttentionPooling]
    heads: dict[str, keras.layers.Layer]  # output name -> head layer (ClassGrouping: read off emotion)
    norm: RunningNormalization | None = None

    @property
    def lead(self) -> int:
        """Frames at the start of a stream that begin before its first sample."""
        return self.log_mel.frame_length // self.log_mel.frame_step - 1

    @property
    def tail(self) -> int:
        return self.log_mel.frame_length - self.log_mel.frame_step


def stream_parts(model: keras.Model) -> StreamParts:
    """The parts of ``model`` a step model runs; SettingsError naming what is not causal."""
    blocks, log_mel, norm, other = [], None, None, []
    for layer in model.layers:
        kind = type(layer).__name__
        if isinstance(layer, RunningNormalization):
            norm = layer
        elif isinstance(layer, ConvBlock):
            if not layer.causal or layer.squeeze_excitation:
                raise SettingsError(f"{layer.name} is not a causal block: train with --causal (the tiny recipe)")
            blocks.append(layer)
        elif isinstance(layer, LogMelSpectrogram):
            log_mel = layer
        elif not (kind in _INFERENCE_IDENTITY or isinstance(layer, (AttentionPooling, ClassGrouping))
                  or layer.name == NORMALIZATION or isinstance(layer, keras.layers.Dense) or kind == "CosineSoftmax"):
            other.append(f"{layer.name} ({kind})")
    if other:
        raise SettingsError(f"no step model for a model with {', '.join(other)}: only causal log-mel models stream "
                            "(the tiny recipe)")
    if log_mel is None or log_mel.frame_length % log_mel.frame_step:
        raise SettingsError("a step model needs the log-mel front end with a frame length a whole number of hops")
    heads, pooling = {}, {}
    for name in model.output:
        heads[name] = model.get_layer(name)
        if not isinstance(heads[name], ClassGrouping):
            pooling[name] = model.get_layer(pooling_name(name))
    return StreamParts(model.get_layer(NORMALIZATION), log_mel, blocks, pooling, heads, norm)


def stream_layout(parts: StreamParts) -> StreamLayout:
    """The state's layout for ``parts``."""
    layout = [("tail", (parts.tail,)), ("position", (1,))]
    channels = parts.log_mel.num_mel_bins
    if parts.norm is not None:
        layout += [("norm/sum", (1, channels)), ("norm/count", (1, 1))]
    for block in parts.blocks:
        layout.append((f"{block.name}/history", (block.history, channels)))
        channels = block.filters
    for task, pool in parts.pooling.items():
        layout += [(f"{task}/max", (pool.heads,)), (f"{task}/total", (pool.heads,))]
        layout += [(f"{task}/sum{i}", (pool.heads, channels)) for i in range(2 if pool.statistics else 1)]
    return StreamLayout(tuple(layout))


def step_function(model: keras.Model, chunk_samples: int):
    """``(step(chunk, state) -> {"state", task: probabilities}, StreamLayout)`` of a causal model;
    ``chunk_samples`` a whole number of the model's hops."""
    parts = stream_parts(model)
    hop = parts.log_mel.frame_step
    if chunk_samples < hop or chunk_samples % hop:
        raise SettingsError(f"a chunk must be a whole number of {hop}-sample hops, not {chunk_samples} samples")
    layout = stream_layout(parts)
    frames = chunk_samples // hop

    def step(chunk, state):
        s = layout.unpack(state)
        signal = tf.concat([s["tail"], parts.standardize(chunk)], axis=1)
        x = parts.log_mel(signal)  # [1, frames, mel_bins]
        index = s["position"] + tf.range(frames, dtype=tf.float32)[None]  # [1, frames]
        valid = tf.cast(index >= parts.lead, tf.float32)
        new = {"tail": signal[:, -parts.tail:] if parts.tail else signal[:, :0], "position": s["position"] + frames}
        if parts.norm is not None:
            x, (new["norm/sum"], new["norm/count"]) = parts.norm.step(x, valid, (s["norm/sum"], s["norm/count"]))
        for block in parts.blocks:
            x, new[f"{block.name}/history"] = block.step(x, valid, s[f"{block.name}/history"])
        outputs = {}
        for task, pool in parts.pooling.items():
            keys = [f"{task}/max", f"{task}/total"] + [f"{task}/sum{i}" for i in range(2 if pool.statistics else 1)]
            pooled_state = pool.step(x, valid, [s[k] for k in keys])
            new.update(zip(keys, pooled_state))
            outputs[task] = parts.heads[task](pool.pooled(pooled_state))
        for name, head in parts.heads.items():
            if name not in outputs:
                outputs[name] = head(outputs["emotion"])
        return {STATE_NAME: layout.pack(new), **{name: outputs[name] for name in model.output}}

    return step, layout


def step_specs(chunk_samples: int, layout: StreamLayout) -> list[tf.TensorSpec]:
    return [tf.TensorSpec([1, chunk_samples], tf.float32, name=CHUNK_NAME),
            tf.TensorSpec([1, layout.size], tf.float32, name=STATE_NAME)]


def export_step(model: keras.Model, path, chunk_samples: int) -> tuple[bytes, StreamLayout]:
    """Write the float32 step model (TFLite, builtins only) of a causal ``model`` to ``path``."""
    from kerasser.export.tflite import FrozenServing, export_float32

    step, layout = step_function(model, chunk_samples)
    return export_float32(FrozenServing(model, step, step_specs(chunk_samples, layout)), path), layout


STEP_CHUNK_SAMPLES = 1600  # 100 ms at 16 kHz: the step model's chunk in exports


def export_checked(model: keras.Model, config, folder, clips, tolerance: float, write) -> tuple[dict | None, dict]:
    """For a causal model (``config``: its ModelConfig), write ``STEP_FILE`` into the export
    folder ``folder`` and check it on ``clips`` (each cut to whole chunks) against the Keras model
    run offline on the same samples: ``(the metadata's stream entry, its parity figures)``;
    ``(None, {})`` for other models. ExportError when a probability differs by over ``tolerance``."""
    import numpy as np

    from kerasser.contract import STEP_FILE
    from kerasser.errors import ExportError
    from kerasser.export.tflite import custom_ops
    from kerasser.serve.stream import StepRunner

    if not config.causal:
        return None, {}
    chunk = STEP_CHUNK_SAMPLES * config.audio.sample_rate // 16000
    write(f"writing the step model ({STEP_FILE}, {chunk}-sample chunks)")
    content, layout = export_step(model, folder / STEP_FILE, chunk)
    if custom_ops(content):
        raise ExportError(f"needs non-builtin ops {custom_ops(content)}", path=folder / STEP_FILE)
    stream = {"chunk_samples": chunk, "state_size": layout.size}
    runner = StepRunner(folder / STEP_FILE, chunk, layout.size, list(model.output))
    stream.update(input_order=runner.raw_order("inputs"), output_order=runner.raw_order("outputs"))
    worst = 0.0
    for clip in clips:
        wave = np.asarray(clip[1] if isinstance(clip, tuple) else clip, np.float32)
        wave = wave[: len(wave) // chunk * chunk]
        if not len(wave):
            continue
        offline = model({"waveform": wave[None], "length": np.array([len(wave)], np.int32)})
        online = runner.run(wave)
        worst = max(worst, *(float(np.max(np.abs(np.asarray(offline[t])[0] - online[t]))) for t in online))
    if worst > tolerance:
        raise ExportError(f"the step model's probabilities differ from the offline model's by {worst:.2g} "
                          f"(over {tolerance})", path=folder / STEP_FILE)
    write(f"  step model: max |diff| from the offline model {worst:.2g}")
    return stream, {"step": {"max_abs_diff": worst, "clips": len(clips)}}
