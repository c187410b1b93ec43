"""The end-to-end multi-task network of Zhang et al. (ICASSP 2019), as a Keras functional model.

Inputs (a dict):
  ``waveform`` [batch, time] float32, 16 kHz mono, right-padded with anything;
  ``length``   [batch] int32, valid samples per row.
Outputs (a dict): ``{task: probabilities [batch, classes]}`` in ``ModelConfig.tasks`` order.

Graph: standardise (training-set mean/variance, adapted) -> zero past ``length`` and size for
framing -> front end (per-frame or shared convolutions; 40 ms frames every 10 ms) -> dropout ->
stacked GRUs over the masked frames -> per task attention or last-step pooling -> softmax head.
All preprocessing is inside the graph, so training, SavedModel and TFLite compute the same thing.
"""

from __future__ import annotations

import keras

from kerasser.config import ModelConfig
from kerasser.layers import AttentionPooling, FramedFrontEnd, FramePadding, LastStepPooling, SharedFrontEnd
from kerasser.tasks import TASKS

NORMALIZATION = "standardize"


def pooling_name(task: str) -> str:
    return f"{task}_pooling"


def build_frontend(config: ModelConfig) -> keras.layers.Layer:
    common = dict(
        filters=config.conv_filters,
        width=config.conv_width,
        time_pool=config.time_pool,
        channel_pool=config.channel_pool,
        frame_length=config.audio.frame_length,
        frame_step=config.audio.frame_step,
        l2=config.l2,
        name="frontend",
    )
    if config.frontend == "shared":
        return SharedFrontEnd(**common)
    return FramedFrontEnd(padding=config.conv_padding, **common)


def build_model(config: ModelConfig) -> keras.Model:
    """Build the (uncompiled) model. Its ``standardize`` layer starts at mean 0, variance 1:
    adapt it on training audio (``kerasser.training.adapt_normalization``) before training."""
    reg = keras.regularizers.L2(config.l2) if config.l2 else None
    waveform = keras.Input((None,), name="waveform")
    length = keras.Input((), dtype="int32", name="length")

    x = keras.layers.Normalization(axis=None, name=NORMALIZATION)(waveform)
    x, frame_mask = FramePadding(
        config.audio.frame_length, config.audio.frame_step, name="frame_padding"
    )([x, length])
    x = build_frontend(config)(x)
    x = keras.layers.Dropout(config.dropout, name="frame_dropout")(x)
    for i in range(config.gru_layers):
        x = keras.layers.GRU(
            config.gru_units,
            return_sequences=True,
            kernel_regularizer=reg,
            recurrent_regularizer=reg,
            name=f"gru{i + 1}",
        )(x, mask=frame_mask)

    outputs = {}
    for name in config.tasks:
        if config.attention:
            pooled, _ = AttentionPooling(
                return_attention=True, kernel_regularizer=reg, name=pooling_name(name)
            )(x, mask=frame_mask)
        else:
            pooled = LastStepPooling(name=pooling_name(name))(x, mask=frame_mask)
        outputs[name] = keras.layers.Dense(
            TASKS[name].num_classes, activation="softmax", kernel_regularizer=reg, name=name
        )(pooled)
    return keras.Model({"waveform": waveform, "length": length}, outputs, name="kerasser")


def with_attention_outputs(model: keras.Model) -> keras.Model:
    """The same graph with ``{task}_attention`` [batch, frames] outputs added for every task
    pooled by attention (weights over the frames; 0 on padding)."""
    outputs = dict(model.output)
    for name in list(outputs):
        layer = model.get_layer(pooling_name(name))
        if isinstance(layer, AttentionPooling):
            outputs[f"{name}_attention"] = layer.output[1]
    return keras.Model(model.input, outputs, name=model.name)


def compile_model(model: keras.Model, task_weights: dict[str, float], learning_rate: float) -> None:
    """Adam, one sparse cross-entropy per task weighted by ``task_weights`` (w_m); the L2
    penalty comes from the layers' regularisers. Missing labels arrive as sample weight 0."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={t: keras.losses.SparseCategoricalCrossentropy() for t in task_weights},
        loss_weights=dict(task_weights),
    )
