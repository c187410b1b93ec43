"""ConvBlock: a masked 1-D convolution block over feature frames (batch norm, residual, squeeze-excitation;
depthwise-separable or causal as options, and a step that runs a causal block chunk by chunk)."""

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

    Options for devices: ``separable=True`` makes ``conv`` depthwise-separable (a DepthwiseConv1D
    ``depthwise`` of ``kernel_size`` and ``dilation_rate``, then a 1x1 Conv1D ``conv``: about
    ``kernel_size`` times fewer weights, int8 kernels everywhere); ``causal=True`` pads on the left
    only (``(kernel_size - 1) * dilation_rate`` zeros), so frame t sees frames up to t and never
    a later one: what :meth:`step` needs to run the block on a stream, chunk by chunk, with the
    last ``history`` frames of its input as the state between chunks.

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
        separable: bool = False,
        causal: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = filters
        self.kernel_size = kernel_size
        self.dilation_rate = dilation_rate
        self.residual = residual
        self.squeeze_excitation = squeeze_excitation
        self.l2 = l2
        self.separable = separable
        self.causal = causal
        self.supports_masking = True
        reg = keras.regularizers.L2(l2) if l2 else None
        padding = "valid" if causal else "same"
        self.depthwise = None
        if separable:
            self.depthwise = keras.layers.DepthwiseConv1D(
                kernel_size, dilation_rate=dilation_rate, padding=padding, use_bias=False,
                depthwise_regularizer=reg, name="depthwise",
            )
            self.conv = keras.layers.Conv1D(filters, 1, use_bias=False, kernel_regularizer=reg, name="conv")
        else:
            self.conv = keras.layers.Conv1D(
                filters, kernel_size, dilation_rate=dilation_rate, padding=padding, use_bias=False,
                kernel_regularizer=reg, name="conv",
            )
        self.norm = keras.layers.BatchNormalization(name="norm")
        self.shortcut = None
        if squeeze_excitation:
            self.squeeze = keras.layers.Dense(squeeze_excitation, activation="relu", kernel_regularizer=reg, name="squeeze")
            self.excite = keras.layers.Dense(filters, activation="sigmoid", kernel_regularizer=reg, name="excite")

    def build(self, input_shape):
        channels = input_shape[-1]
        if self.depthwise is not None:
            self.depthwise.build((None, None, channels))
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
        padded = ops.pad(x, [[0, 0], [self.history, 0], [0, 0]]) if self.causal else x
        y = ops.relu(self.norm(self._convolve(padded), training=training, mask=mask))
        if self.squeeze_excitation:
            count = ops.maximum(ops.sum(weight, axis=1), 1.0)
            mean = ops.sum(y * weight, axis=1) / count  # [batch, filters]
            y = y * ops.expand_dims(self.excite(self.squeeze(mean)), 1)
        if self.residual:
            y = y + (self.shortcut(x) if self.shortcut is not None else x)
        return y * weight

    @property
    def history(self) -> int:
        """Frames before the current one that a causal block's convolution sees."""
        return (self.kernel_size - 1) * self.dilation_rate

    def _convolve(self, x):
        return self.conv(self.depthwise(x) if self.depthwise is not None else x)

    def step(self, inputs, valid, history):
        """A causal block at inference on the next ``inputs`` [batch, time, channels] of a stream:
        ``valid`` [batch, time] (1.0 for real frames), ``history`` [batch, self.history, channels]
        (the masked input frames before these; zeros at the start). Returns ``(outputs, history)``,
        the outputs equal to the offline call's for these frames (no squeeze-excitation: its gate
        averages over the whole utterance)."""
        if not self.causal or self.squeeze_excitation:
            raise ValueError("only a causal block without squeeze-excitation runs step by step")
        weight = ops.expand_dims(ops.cast(valid, inputs.dtype), -1)
        x = inputs * weight
        joined = ops.concatenate([history, x], axis=1)
        y = ops.relu(self.norm(self._convolve(joined), training=False))
        if self.residual:
            y = y + (self.shortcut(x) if self.shortcut is not None else x)
        return y * weight, joined[:, ops.shape(joined)[1] - self.history:]

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
            "separable": self.separable,
            "causal": self.causal,
        }
