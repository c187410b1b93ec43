"""TFLite export: float32, full-integer int8, float16 and dynamic-range variants.

Every variant has the serving contract of ``kerasser.contract`` as its ``serving_default``
signature, and only TFLITE_BUILTINS ops (no Flex / SELECT_TF_OPS), so the plain LiteRT runtime
(``ai_edge_litert``) runs it.

Why the graph is frozen first: converted straight from the Keras model or a SavedModel, the GRU's
while-loop body reads resource variables, and the TFLite model fails at run time
(``READ_VARIABLE ... variable != nullptr ... Node (WHILE) failed to invoke``). Freezing the
serving function (variables -> constants) converts with builtins only and runs at any length. A
frozen function returns a flat list (``Identity``, ``Identity_1``, ...); ``FrozenServing`` wraps it
in a ``tf.function`` that rebuilds the output dict, so the converted model gets a signature with
named outputs.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Sequence

import flatbuffers
import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from kerasser.contract import INPUT_NAME, QUANTIZATIONS, REFERENCE_NAME, TEXT_NAME, VARIANTS
from kerasser.errors import ExportError, SettingsError
from kerasser.export.saved_model import input_spec, input_specs, serving_function, statistics_function

# What each variant is, for metadata.json.
VARIANT_INFO = {
    "float32": {"ops": "TFLITE_BUILTINS", "weights": "float32", "activations": "float32"},
    "int8": {
        "ops": "TFLITE_BUILTINS_INT8 + TFLITE_BUILTINS",
        "weights": "int8",
        "activations": "int8, except the feature extraction and the attention pooling (float32)",
        "input_output": "float32 (quantised inside the model)",
    },
    "float16": {"ops": "TFLITE_BUILTINS", "weights": "float16", "activations": "float32"},
    "dynamic": {
        "ops": "TFLITE_BUILTINS",
        "weights": "int8, except the feature extraction and the attention pooling (float32)",
        "activations": "float32 (int8 kernels where supported)",
    },
}


class FrozenServing(tf.Module):
    """The serving function (``kerasser.export.saved_model.serving_function``, or ``function``
    with ``specs``) with its variables frozen into constants; ``serving`` is a ``tf.function``
    (``waveform`` [1, None] [, ``reference``] -> output dict) the converter takes with this module."""

    def __init__(self, model: keras.Model, function=None, specs: Sequence[tf.TensorSpec] | None = None):
        super().__init__()
        specs = list(specs or input_specs(model))
        traced = tf.function(function or serving_function(model), input_signature=specs)
        concrete = traced.get_concrete_function()
        self._frozen = convert_variables_to_constants_v2(concrete)
        self._structure = concrete.structured_outputs
        self.output_names = sorted(self._structure)
        self.input_names = [spec.name for spec in specs]
        self.serving = tf.function(self._serve, input_signature=specs)

    def _serve(self, *inputs):
        return tf.nest.pack_sequence_as(self._structure, self._frozen(*inputs))


def freeze_statistics(model: keras.Model) -> FrozenServing:
    """A speaker-normalising model's ``speaker_statistics`` function, frozen for conversion."""
    return FrozenServing(model, statistics_function(model), [input_spec()])


def freeze(model: keras.Model | FrozenServing) -> FrozenServing:
    """``model`` frozen for conversion (returned as is if it already is)."""
    return model if isinstance(model, FrozenServing) else FrozenServing(model)


def _converter(model: keras.Model | FrozenServing) -> tf.lite.TFLiteConverter:
    module = freeze(model)
    concrete = module.serving.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter


def _write(content: bytes, path: str | os.PathLike) -> bytes:
    with open(path, "wb") as f:
        f.write(content)
    return content


def export_float32(model: keras.Model | FrozenServing, path: str | os.PathLike) -> bytes:
    """Write the float32 TFLite model to ``path``; returns its bytes.

    Signature ``serving_default`` (``kerasser.contract``); TFLITE_BUILTINS only; float32 weights
    and activations.
    """
    return _write(_converter(model).convert(), path)


# Layers kept in float32 by the int8 variant: their values span more than int8 can hold.
# A log-mel front end's power spectrum covers about 90 dB before its log (int8: about 48 dB), and
# attentive statistics take a standard deviation as E[h^2] - E[h]^2, a difference of near
# equals. Quantised, the default model lost up to 56 UAR points; with these in float32, at most 1.
FLOAT_LAYERS = ("standardize", "frame_padding", "log_mel", "feature_norm", "_pooling")


def float_tensors(float_model: bytes, layers: Sequence[str] = FLOAT_LAYERS) -> list[str]:
    """Names of the tensors of ``float_model`` (a converted float32 TFLite model) that ``layers``
    compute: TFLite tensor names carry the Keras layer name."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=float_model)
    return [d["name"] for d in interpreter.get_tensor_details() if any(k in d["name"] for k in layers)]


def export_int8(
    model: keras.Model | FrozenServing,
    path: str | os.PathLike,
    representative: Iterable[np.ndarray],
    float_layers: Sequence[str] = FLOAT_LAYERS,
) -> bytes:
    """Write the integer TFLite model to ``path``; returns its bytes.

    Same signature as ``export_float32`` (float32 ``waveform`` in, float32 outputs out). Weights
    and activations are int8 (TFLITE_BUILTINS_INT8 kernels), calibrated on ``representative``:
    1-D float32 waveforms at the model's rate (the run's training audio; for a speaker-normalising
    model ``(waveform, reference)`` pairs, for a text model ``{"waveform", "text"}`` dicts), each run
    through the model once, except the layers of
    ``float_layers`` (default ``FLOAT_LAYERS``: feature extraction, attention pooling; any tensor
    whose name holds one of them), which stay float32 builtins: selective quantisation through
    the converter's ``QuantizationDebugger`` with those tensors deny-listed. ``benchmarks/int8_layers.py`` measures what keeping more layers float
    buys.
    """
    frozen = freeze(model)
    clips = [_representative_inputs(item, REFERENCE_NAME in frozen.input_names) for item in representative]
    if TEXT_NAME in frozen.input_names and any(TEXT_NAME not in clip for clip in clips):
        raise SettingsError("a text model's int8 calibration needs each waveform's token ids ({waveform, text} items)")
    if not clips:
        raise SettingsError("int8 quantisation needs at least one representative waveform")

    def dataset():
        yield from clips

    keep_float = float_tensors(_converter(frozen).convert(), float_layers)
    converter = _converter(frozen)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    with warnings.catch_warnings():  # calibration runs tf.lite.Interpreter, which warns it is deprecated
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        if not keep_float:
            return _write(converter.convert(), path)
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=converter,
            debug_dataset=dataset,
            debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=keep_float),
        )
        return _write(debugger.get_nondebug_quantized_model(), path)


def _representative_inputs(item, with_reference: bool) -> dict[str, np.ndarray]:
    """One calibration input: a waveform, or for a speaker-normalising model ``(waveform, reference)``,
    or ``{input name: array without the batch axis}`` (a text model's ``{"waveform", "text"}``)."""
    if isinstance(item, dict):
        return {name: np.asarray(value, np.int32 if name == TEXT_NAME else np.float32)[None]
                for name, value in item.items()}
    if not with_reference:
        return {INPUT_NAME: np.asarray(item, np.float32)[None]}
    waveform, reference = item
    return {INPUT_NAME: np.asarray(waveform, np.float32)[None], REFERENCE_NAME: np.asarray(reference, np.float32)[None]}


def export_float16(model: keras.Model | FrozenServing, path: str | os.PathLike) -> bytes:
    """Write the float16-weight TFLite model to ``path``; returns its bytes.

    Same signature as ``export_float32``. Weights are stored as float16 and dequantised to
    float32 at load time; activations stay float32. TFLITE_BUILTINS only.
    """
    converter = _converter(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    return _write(converter.convert(), path)


def export_dynamic(model: keras.Model | FrozenServing, path: str | os.PathLike) -> bytes:
    """Write the dynamic-range TFLite model to ``path``; returns its bytes.

    Same signature as ``export_float32``. Weights are int8, except those of ``FLOAT_LAYERS``
    (``float_weights``); activations are float32, quantised on the fly by the kernels that support
    it (no calibration data). TFLITE_BUILTINS only.
    """
    frozen = freeze(model)
    converter = _converter(frozen)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return _write(float_weights(converter.convert(), _converter(frozen).convert()), path)


def float_weights(content: bytes, float_model: bytes, layers: Sequence[str] = FLOAT_LAYERS) -> bytes:
    """``content`` (a TFLite model) with the int8 constant inputs of the ops that ``layers`` compute
    (``FLOAT_LAYERS`` by default) put back to their float32 values in ``float_model`` (the float32
    conversion of the same graph: the same tensor names), so those ops run float kernels on exact weights.

    Why: the dynamic-range converter has no deny-list. Given int8 weights, a kernel quantises its
    float input on the fly, and the log-mel filterbank's input, a power spectrum spanning about
    90 dB, loses its quiet bins: the default model's dynamic variant picked the float model's class
    on 42 % of 60 EmoDB clips. Dequantised weights were not enough (97 % of 47 clips' decisions, the
    filterbank's rounding); with the float32 ones 100 %, probabilities within 0.005
    (``tests/export/test_tflite_dynamic.py``)."""
    from tensorflow.lite.python import schema_py_generated as schema

    def read(data: bytes):
        return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(data, 0))

    model, reference = read(content), read(float_model)
    exact = {t.name: reference.buffers[t.buffer].data for g in reference.subgraphs for t in g.tensors
             if t.type == schema.TensorType.FLOAT32 and reference.buffers[t.buffer].data is not None}
    for graph in model.subgraphs:
        for op in graph.operators:
            if not any(k in graph.tensors[i].name.decode() for i in op.outputs for k in layers):
                continue
            for tensor in (graph.tensors[i] for i in op.inputs if i >= 0):
                data = exact.get(tensor.name)
                if tensor.type != schema.TensorType.INT8 or data is None:
                    continue
                if len(data) != 4 * int(np.prod(tensor.shape)):
                    raise ExportError(f"float weights of {tensor.name.decode()} do not match its shape {list(tensor.shape)}")
                model.buffers[tensor.buffer].data = data
                tensor.type, tensor.quantization = schema.TensorType.FLOAT32, None
    builder = flatbuffers.Builder(len(content))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


EXPORTERS: dict[str, Callable[..., bytes]] = {
    "float32": export_float32,
    "int8": export_int8,
    "float16": export_float16,
    "dynamic": export_dynamic,
}
assert tuple(EXPORTERS) == VARIANTS and set(QUANTIZATIONS) < set(EXPORTERS)


def export_tflite(
    model: keras.Model | FrozenServing,
    path: str | os.PathLike,
    variant: str = "float32",
    representative: Iterable[np.ndarray] | None = None,
) -> bytes:
    """``export_<variant>(model, path)``; ``representative`` is needed (only) for int8."""
    if variant not in EXPORTERS:
        raise SettingsError(f"unknown TFLite variant {variant!r}; expected one of {', '.join(EXPORTERS)}")
    if variant == "int8":
        if representative is None:
            raise SettingsError("int8 quantisation needs representative waveforms")
        return export_int8(model, path, representative)
    return EXPORTERS[variant](model, path)


def _operator_codes(content: bytes) -> list[tuple[str, bool]]:
    """``(name, is_custom)`` per operator code of a TFLite flatbuffer, all subgraphs included."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    codes = []
    for i, code in enumerate(model.operatorCodes):
        if code.customCode:
            custom = code.customCode
            codes.append((custom.decode() if isinstance(custom, bytes) else str(custom), True))
        else:
            codes.append((str(flatbuffer_utils.opcode_to_name(model, i)), False))
    return codes


def operator_names(content: bytes) -> list[str]:
    """Every operator of a TFLite flatbuffer, in all subgraphs (while-loop bodies included),
    sorted: builtin names (``CONV_2D``) and custom codes (a Flex op appears as ``Flex<Op>``)."""
    return sorted({name for name, _ in _operator_codes(content)})


def custom_ops(content: bytes) -> list[str]:
    """The non-builtin operators (Flex ops among them) of a TFLite flatbuffer; [] for ours."""
    return sorted({name for name, custom in _operator_codes(content) if custom})


KERNEL_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL")  # the ops that carry weights


def kernels(content: bytes) -> list[tuple[str, str, str]]:
    """``(op, input dtype, output tensor name)`` per convolution and matrix product of a TFLite
    model: which kernels run in int8 and which in float32 (the tensor name holds the Keras layer's)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    tensors = {d["index"]: d for d in interpreter.get_tensor_details()}
    return [(op["op_name"], np.dtype(tensors[op["inputs"][0]]["dtype"]).name, tensors[op["outputs"][0]]["name"])
            for op in interpreter._get_ops_details() if op["op_name"] in KERNEL_OPS]
