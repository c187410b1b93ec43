"""The paper's convolution stack, built once for both front ends so they share weight layout.

Conv1D(filters, width) + ReLU -> max-pool over time -> Conv1D(filters, width) + ReLU ->
max-pool across channels. ``SharedFrontEnd`` and ``FramedFrontEnd`` both make their sublayers
here, under the same names and shapes, so weights copy between them with ``set_weights``.
"""

from __future__ import annotations

import keras


def make_conv_layers(filters: int, width: int, time_pool: int, padding: str, l2: float):
    """(conv1, pool, conv2) sublayers; ``l2`` > 0 adds an L2 penalty on both kernels."""
    reg = keras.regularizers.L2(l2) if l2 else None

    def conv(name):
        return keras.layers.Conv1D(
            filters, width, padding=padding, activation="relu", kernel_regularizer=reg, name=name
        )

    return conv("conv1"), keras.layers.MaxPooling1D(time_pool, name="time_pool"), conv("conv2")


def conv_output_length(length: int, width: int, time_pool: int, padding: str) -> int:
    """Time steps left of ``length`` input samples after conv -> pool -> conv."""
    if padding == "same":
        return length // time_pool
    return (length - width + 1) // time_pool - width + 1
