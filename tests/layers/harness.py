"""The checks every kerasser layer must pass, in one place (after keras-hub's ``run_layer_test``).

A helper module, not a test module: each layer test file has one test parametrised over
``CHECKS`` that calls ``run_layer_test(check, cls, init_kwargs, inputs, ...)``. The checks:

- ``serialization``: ``get_config`` holds every init kwarg and ``from_config`` gives the same
  config; the layer is registered and serialised as ``kerasser>ClassName``; a built layer comes
  back built and, given the same weights, gives the same outputs.
- ``eager``: ``build`` on the inputs' shapes makes every weight (the call makes none more); the
  call gives finite outputs.
- ``symbolic``: called on ``keras.Input``s with unknown batch and axis 1 (time) unknown, the
  symbolic outputs and ``compute_output_shape`` agree with the eager outputs in rank and in every
  dimension they know.
- ``gradient``: one SGD step from a ``tf.GradientTape``: every trainable weight gets a finite,
  not-all-zero gradient, and the stepped layer still gives finite outputs.
- ``mixed_float16``: made under the global ``mixed_float16`` policy, the layer builds, computes
  in float16 and gives finite outputs, also for a row with no valid frame (the last row of every
  mask is cleared for this check).

``inputs`` is the call's first argument: one array, or a list of arrays for layers called on
``[x, mask]``-style lists (a 2-D bool array in that list is a mask). ``mask`` is passed as the
call's ``mask=`` argument, ``call_kwargs`` as further keyword arguments (``training=True``).
A layer opts out of a check that does not apply with ``skip={check: reason}``; pytest reports
the check as skipped with that reason.
"""

from __future__ import annotations

import contextlib
import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf


def run_layer_test(check: str, cls, init_kwargs: dict, inputs, *, mask=None, call_kwargs=None, skip=None):
    """Run one of ``CHECKS`` on ``cls(**init_kwargs)`` called on ``inputs``, or skip it with the
    reason ``skip`` gives for it."""
    skip = skip or {}
    unknown = set(skip) - set(CHECKS)
    assert not unknown, f"skip names unknown checks {sorted(unknown)}; the checks are {CHECKS}"
    if check in skip:
        pytest.skip(f"{cls.__name__}: {skip[check]}")
    CHECK_FUNCTIONS[check](cls, init_kwargs, Example(inputs, mask, call_kwargs or {}))


@contextlib.contextmanager
def dtype_policy(name: str):
    """Layers made inside get the global dtype policy ``name`` (``"mixed_float16"``: float16
    compute, float32 weights); the previous policy comes back afterwards, whatever happens."""
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


# --- the checks -----------------------------------------------------------------------------------


def check_serialization(cls, init_kwargs: dict, example: Example):
    """Config round trip, the registered name, and a built layer restored with its weights."""
    layer = cls(**init_kwargs)
    config = layer.get_config()
    for key, value in init_kwargs.items():
        assert key in config, f"get_config() lacks the init argument {key!r}"
        if not isinstance(config[key], dict):  # a dict is a serialised object (initializer, ...)
            assert config[key] == value, f"get_config()[{key!r}] is {config[key]!r}, not {value!r}"
    assert cls.from_config(config).get_config() == config

    name = f"kerasser>{cls.__name__}"
    assert keras.saving.get_registered_object(name) is cls
    outputs = example.outputs(layer)
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"] == name
    restored = keras.saving.deserialize_keras_object(serialized)
    assert type(restored) is cls and restored.get_config() == config
    assert restored.built  # the build config travels: the saved weights have somewhere to go
    restored.set_weights(layer.get_weights())
    for got, want in zip(example.outputs(restored), outputs, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)


def check_eager(cls, init_kwargs: dict, example: Example):
    """``build`` makes every weight; the call on the example gives finite outputs."""
    layer = cls(**init_kwargs)
    layer.build(shapes(example.inputs))
    built = [w.path for w in layer.weights]
    outputs = example.outputs(layer)
    assert [w.path for w in layer.weights] == built, "the call made weights that build did not"
    assert_finite(outputs)


def check_symbolic(cls, init_kwargs: dict, example: Example):
    """Symbolic and declared output shapes fit the eager outputs (unknown batch and time)."""
    layer = cls(**init_kwargs)
    inputs = keras.tree.map_structure(symbolic, example.inputs)
    mask = None if example.mask is None else symbolic(example.mask)
    symbolic_outputs = keras.tree.flatten(Example(inputs, mask, example.call_kwargs).call(layer))
    declared = output_shapes(layer.compute_output_shape(shapes(inputs)))
    eager = example.outputs(layer)
    assert len(symbolic_outputs) == len(declared) == len(eager)
    for sym, shape, out in zip(symbolic_outputs, declared, eager):
        assert_shape_agrees(tuple(sym.shape), out.shape, "symbolic output")
        assert_shape_agrees(shape, out.shape, "compute_output_shape")


def check_gradient(cls, init_kwargs: dict, example: Example):
    """One SGD step: finite, not-all-zero gradients for every trainable weight."""
    layer = cls(**init_kwargs)
    rng = np.random.default_rng(0)
    upstream = [rng.normal(size=out.shape).astype(np.float32) for out in floats(example.outputs(layer))]
    weights = layer.trainable_weights
    assert weights, "no trainable weights: opt out of 'gradient' with the reason"
    with tf.GradientTape() as tape:
        outputs = floats(keras.tree.flatten(example.call(layer)))
        loss = sum(tf.reduce_sum(tf.cast(out, tf.float32) * up) for out, up in zip(outputs, upstream))
    gradients = tape.gradient(loss, weights)
    for weight, gradient in zip(weights, gradients):
        assert gradient is not None, f"no gradient reaches {weight.path}"
        gradient = np.asarray(tf.convert_to_tensor(gradient))  # an embedding's IndexedSlices made dense
        assert np.all(np.isfinite(gradient)), f"non-finite gradient for {weight.path}"
        assert np.any(gradient != 0.0), f"all-zero gradient for {weight.path}"
    keras.optimizers.SGD(learning_rate=0.01).apply(gradients, weights)
    assert_finite(example.outputs(layer))


def check_mixed_float16(cls, init_kwargs: dict, example: Example):
    """Under mixed_float16: float16 outputs, all finite, a row with no valid frame included."""
    inputs = keras.tree.map_structure(without_last_row, example.inputs)
    mask = None if example.mask is None else without_last_row(example.mask)
    with dtype_policy("mixed_float16"):
        layer = cls(**init_kwargs)
        outputs = Example(inputs, mask, example.call_kwargs).outputs(layer)
    assert layer.compute_dtype == "float16" and layer.variable_dtype == "float32"
    for out in floats(outputs):
        assert out.dtype == np.float16, f"an output in {out.dtype}, not the compute dtype float16"
    assert_finite(outputs)


CHECK_FUNCTIONS = {
    "serialization": check_serialization,
    "eager": check_eager,
    "symbolic": check_symbolic,
    "gradient": check_gradient,
    "mixed_float16": check_mixed_float16,
}
CHECKS = tuple(CHECK_FUNCTIONS)  # the names, to parametrise a test over


# --- helpers --------------------------------------------------------------------------------------


@dataclasses.dataclass
class Example:
    """A layer call's arguments: ``layer(inputs, mask=mask, **call_kwargs)``."""

    inputs: object  # an array, or a list of arrays
    mask: np.ndarray | None
    call_kwargs: dict

    def call(self, layer):
        """The layer's outputs as it returns them (``mask=`` left out when there is none)."""
        kwargs = self.call_kwargs if self.mask is None else {**self.call_kwargs, "mask": self.mask}
        return layer(self.inputs, **kwargs)

    def outputs(self, layer) -> list[np.ndarray]:
        """The layer's outputs, flattened, as NumPy arrays."""
        return [np.asarray(out) for out in keras.tree.flatten(self.call(layer))]


def symbolic(array: np.ndarray) -> keras.KerasTensor:
    """A ``keras.Input`` like ``array`` with the batch and axis 1 (time) unknown."""
    shape = (None, *array.shape[2:]) if array.ndim >= 2 else ()
    return keras.Input(shape=shape, dtype=str(array.dtype))


def shapes(inputs):
    """The shape of ``inputs``, or the list of shapes of a list of inputs (what ``build`` and
    ``compute_output_shape`` take)."""
    if isinstance(inputs, (list, tuple)):
        return [tuple(x.shape) for x in inputs]
    return tuple(inputs.shape)


def output_shapes(shape) -> list[tuple]:
    """``compute_output_shape``'s answer as a flat list of shapes, one per output."""
    if all(d is None or isinstance(d, int) for d in shape):
        return [tuple(shape)]
    return [s for part in shape for s in output_shapes(part)]


def assert_shape_agrees(declared: tuple, eager: tuple, what: str):
    """Same rank, and every dimension ``declared`` knows is the eager one."""
    agrees = len(declared) == len(eager) and all(d is None or d == e for d, e in zip(declared, eager))
    assert agrees, f"{what} {declared} does not fit the eager output's shape {eager}"


def floats(outputs: list) -> list:
    """The floating-point outputs (not the masks some layers return)."""
    is_float = keras.backend.is_float_dtype
    return [out for out in outputs if is_float(keras.backend.standardize_dtype(out.dtype))]


def assert_finite(outputs: list[np.ndarray]):
    """No NaN or infinity in any floating-point output."""
    for out in floats(outputs):
        assert np.all(np.isfinite(out)), f"non-finite values in an output of shape {out.shape}"


def without_last_row(array: np.ndarray) -> np.ndarray:
    """A mask ([batch, time] bool) with its last row cleared: a row with no valid frame. Any
    other array unchanged."""
    if array.dtype != bool or array.ndim != 2:
        return array
    cleared = array.copy()
    cleared[-1] = False
    return cleared
