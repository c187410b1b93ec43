"""ConvBlock: a masked 1-D convolution block over feature frames (batch norm, residual, squeeze-excitation)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="kerasser")
class ConvBlock(keras.layers.Layer):
    """``y = mask * (relu(BN(conv(mask * x))) * se + shortcut(x))`` over [batch, time, channels].

    - ``conv``: Conv1D(``filters``, ``kernel_size``, ``dilation_rate``, 'same' padding, no bias);
    - ``BN``: batch normalisation (statistics over valid frames only during training);
    - ``se`` (``squeeze_excitation`` > 0): a per-channel gate ``sigmoid(W2 relu(W1 m))`` from the
      mean ``m`` over the valid frames, with a bottleneck of ``squeeze_excitation`` units
      (Hu et al., 2018, as in ECAPA-TDNN);
    - ``shortcut`` (``residual=True``): ``x``, or a 1x1 convolution when the channel count
      changes; with ``residual=False`` there is no shortcut.

    Masking: takes the Keras mask or an explicit ``mask`` [batch, time] bool. Padded frames are
    zeroed before the convolution, so a valid frame near the end sees the same zeros a 'same'
    convolution adds to an unpadded input: padding never changes a valid frame. Padded frames
    come out as 0. The mask is passed on unchanged.
    """

    def __init__(
        self,
        filters: int = 256,
        kernel_size: int = 5,
        dilation_rate: int = 1,
        residual: bool = True,
        squeeze_excitation: int = 0,
        l2: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.dilation_rate = dilation_rate
        self.residual = residual
        self.squeeze_excitation = squeeze_excitation
        self.l2 = l2
        self.supports_masking = True
        reg = keras.regularizers.L2(l2) if l2 else None
        self.conv = keras.layers.Conv1D(
            filters, kernel_size, dilation_rate=dilation_rate, padding="same", use_bias=False,
            kernel_regularizer=reg, name="conv",
        )
        self.norm = keras.layers.BatchNormalization(name="norm")
        self.shortcut = None
        if squeeze_excitation:
            self.squeeze = keras.layers.Dense(squeeze_excitation, activation="relu", kernel_regularizer=reg, name="squeeze")
            self.excite = keras.layers.Dense(filters, activation="sigmoid", kernel_regularizer=reg, name="excite")

    def build(self, input_shape):
        channels = input_shape[-1]
        self.conv.build((None, None, channels))
        self.norm.build((None, None, self.filters))
        if self.residual and channels != self.filters:
            reg = keras.regularizers.L2(self.l2) if self.l2 else None
            self.shortcut = keras.layers.Conv1D(self.filters, 1, use_bias=False, kernel_regularizer=reg, name="shortcut")
            self.shortcut.build((None, None, channels))
        if self.squeeze_excitation:
            self.squeeze.build((None, self.filters))
            self.excite.build((None, self.squeeze_excitation))

    def call(self, inputs, mask=None, training=False):
        if mask is None:
            weight = ops.ones_like(inputs[..., :1])
        else:
            weight = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        x = inputs * weight
        y = ops.relu(self.norm(self.conv(x), training=training, mask=mask))
        if self.squeeze_excitation:
            count = ops.maximum(ops.sum(weight, axis=1), 1.0)
            mean = ops.sum(y * weight, axis=1) / count  # [batch, filters]
            y = y * ops.expand_dims(self.excite(self.squeeze(mean)), 1)
        if self.residual:
            y = y + (self.shortcut(x) if self.shortcut is not None else x)
        return y * weight

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "dilation_rate": self.dilation_rate,
            "residual": self.residual,
            "squeeze_excitation": self.squeeze_excitation,
            "l2": self.l2,
        }
