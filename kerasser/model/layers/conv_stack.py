"""The paper's convolution stack, built once for both front ends so they share weight layout.

Conv1D(filters, width) + ReLU -> max-pool over time -> Conv1D(filters, width) + ReLU ->
max-pool across channels. ``SharedFrontEnd`` and ``FramedFrontEnd`` both make their sublayers
here, under the same names and shapes, so weights copy between them with ``set_weights``.
"""

from __future__ import annotations

import keras


class ConvFrontEndBase(keras.layers.Layer):
    """What both front ends share: their arguments, sublayers, config and output shape.

    Subclasses set ``self.features`` (values per frame) and implement ``build`` and ``call``.
    """

    def __init__(
        self,
        filters: int = 40,
        width: int = 40,
        time_pool: int = 2,
        channel_pool: int = 10,
        padding: str = "valid",
        frame_length: int = 640,
        frame_step: int = 160,
        l2: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = filters
        self.width = width
        self.time_pool = time_pool
        self.channel_pool = channel_pool
        self.padding = padding
        self.frame_length = frame_length
        self.frame_step = frame_step
        self.l2 = l2
        self.conv1, self.pool, self.conv2 = make_conv_layers(filters, width, time_pool, padding, l2)
        self.frame_steps = conv_output_length(frame_length, width, time_pool, padding)
        self.features = self.frame_steps * filters // channel_pool

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None, self.features)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "width": self.width,
            "time_pool": self.time_pool,
            "channel_pool": self.channel_pool,
            "padding": self.padding,
            "frame_length": self.frame_length,
            "frame_step": self.frame_step,
            "l2": self.l2,
        }


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
