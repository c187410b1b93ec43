"""The end-to-end multi-task network of Zhang et al. (ICASSP 2019), as a Keras functional model.

Inputs (a dict):
  ``waveform`` [batch, time] float32, 16 kHz mono, right-padded with anything;
  ``length``   [batch] int32, valid samples per row;
  ``reference`` [batch, mel_bins] float32, only with ``feature_norm="speaker"``: the mean log mel
               of the utterance's speaker (``kerasser.model.speaker_reference``);
  ``text`` [batch, tokens] int32, only for ``modality`` "text" or "audio+text": the transcript's
               token ids (``kerasser.text_input``), fused with the audio by bridge tokens
               (``kerasser.model.fusion``: each head also reads the pooled bridge tokens).
Outputs (a dict): ``{task: probabilities [batch, classes]}`` in ``ModelConfig.tasks`` order.

Graph: standardise (training-set mean/variance, adapted) -> zero past ``length`` and size for
framing -> front end -> dropout -> (optionally) the mean of every ``recurrent_stride`` frames
-> stacked (optionally bidirectional) GRUs over the masked steps
-> per task attention (optionally several heads, attentive statistics) or last-step pooling ->
softmax head (Dense, or ``CosineSoftmax`` for the additive-margin softmax). Front ends: the
paper's raw-waveform convolutions on 40 ms frames (``framed``, or the equal and faster ``shared``),
or ``logmel``: log mel filterbank on 25 ms frames -> per-utterance normalisation -> SpecAugment
(training only) -> residual convolution blocks. Frames come every 10 ms either way. All
preprocessing is inside the graph, so training, SavedModel and TFLite compute the same thing.

Mixed precision (a ``mixed_float16`` global policy while building, ``TrainConfig.mixed_precision``):
the signal path (standardisation, framing, log mel, per-utterance normalisation) and the softmax
heads stay float32 (``SIGNAL``: a power spectrum spans more than float16 holds; probabilities
are summed and logged by the losses); convolutions, GRUs and attention compute in float16.
``load_model`` gives float32 models whatever the policy a file was saved under.
"""

from __future__ import annotations

import os
from collections.abc import Collection

import keras

from kerasser.config import ModelConfig
from kerasser.errors import SettingsError
from kerasser.model.fusion import bridge_pooled, text_input
from kerasser.model.layers import (
    PCEN,
    AttentionPooling,
    ClassGrouping,
    ConvBlock,
    CosineSoftmax,
    CTCOutput,
    FramedFrontEnd,
    FrameDownsampling,
    FramePadding,
    FrameUpsampling,
    GradientReversal,
    LastStepPooling,
    LogMelSpectrogram,
    MixStyle,
    ReferenceNormalization,
    RunningNormalization,
    SharedFrontEnd,
    SpecAugment,
    UtteranceNormalization,
)
from kerasser.model.losses import CTCLoss, ScaledCrossentropy, SparseCrossentropy
from kerasser.tasks import EMODB_EMOTIONS, LEVELS, SPEAKER_TARGET, TASKS, TRANSCRIPT_TARGET, emotion_groups
from kerasser.text import NUM_CLASSES
from kerasser.text_input import TEXT, TEXT_INPUT, reads_text

NORMALIZATION = "standardize"
DOWNSAMPLING = "recurrent_stride"
SPEAKER = SPEAKER_TARGET  # the speaker-adversarial head's output: training only, never exported
TRANSCRIPT = TRANSCRIPT_TARGET  # the CTC head's output: training only unless asked for
LOG_MEL = "log_mel"  # the log mel layer: kerasser.model.speaker_reference averages its output
REFERENCE = "reference"  # the speaker's mean log mel [batch, mel_bins]: models with feature_norm "speaker"
SIGNAL = "float32"  # dtype of the layers that stay float32 under mixed precision (see above)


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


def log_mel_frontend(config: ModelConfig, x, frame_mask, reference=None):
    """Log mel filterbank -> per-utterance (or, given the ``reference`` input, per-speaker)
    normalisation -> SpecAugment -> ConvBlocks (MixStyle after the first, in training, if set)."""
    reg_l2 = config.l2
    x = LogMelSpectrogram(
        sample_rate=config.audio.sample_rate,
        frame_length=config.audio.frame_length,
        frame_step=config.audio.frame_step,
        fft_length=config.fft_length,
        num_mel_bins=config.mel_bins,
        upper_edge_hertz=min(7600.0, config.audio.sample_rate / 2),
        trainable_filterbank=config.mel_trainable,
        name=LOG_MEL,
        dtype=SIGNAL,
    )(x)
    if config.feature_norm == "speaker":
        x = ReferenceNormalization(name="feature_norm", dtype=SIGNAL)([x, reference], mask=frame_mask)
    elif config.feature_norm == "pcen":
        x = PCEN(name="feature_norm", dtype=SIGNAL)(x, mask=frame_mask)
    elif config.feature_norm == "running":
        x = RunningNormalization(name="feature_norm", dtype=SIGNAL)(x, mask=frame_mask)
    elif config.feature_norm != "none":
        x = UtteranceNormalization(config.feature_norm, gate_db=config.norm_gate_db, name="feature_norm",
                                   dtype=SIGNAL)(x, mask=frame_mask)
    if config.spec_time_masks or config.spec_freq_masks:
        x = SpecAugment(
            time_masks=config.spec_time_masks,
            max_time_width=config.spec_time_width,
            freq_masks=config.spec_freq_masks,
            max_freq_width=config.spec_freq_width,
            name="spec_augment",
        )(x)
    for i, (channels, dilation) in enumerate(zip(config.block_channels, config.block_dilations)):
        x = ConvBlock(
            channels,
            config.block_kernel,
            dilation_rate=dilation,
            residual=config.block_residual,
            squeeze_excitation=config.block_se,
            l2=reg_l2,
            separable=config.block_separable,
            causal=config.causal,
            name=f"block{i + 1}",
        )(x, mask=frame_mask)
        if i == 0 and config.mixstyle:
            x = MixStyle(config.mixstyle, name="mix_style")(x, mask=frame_mask)
    return x


def build_model(config: ModelConfig) -> keras.Model:
    """Build the (uncompiled) model. Its ``standardize`` layer starts at mean 0, variance 1:
    adapt it on training audio (``kerasser.training.loop.adapt_normalization``) before training."""
    reg = keras.regularizers.L2(config.l2) if config.l2 else None
    waveform = keras.Input((None,), name="waveform")
    length = keras.Input((), dtype="int32", name="length")
    inputs = {"waveform": waveform, "length": length}
    if config.feature_norm == "speaker":
        inputs[REFERENCE] = keras.Input((config.mel_bins,), name=REFERENCE)
    if reads_text(config.modality):  # audio+text or text: kerasser.model.fusion
        inputs[TEXT_INPUT] = text_input()

    x = keras.layers.Normalization(axis=None, name=NORMALIZATION, dtype=SIGNAL)(waveform)
    x, frame_mask = FramePadding(
        config.audio.frame_length, config.audio.frame_step, name="frame_padding", dtype=SIGNAL
    )([x, length])
    if config.frontend == "logmel":
        x = log_mel_frontend(config, x, frame_mask, inputs.get(REFERENCE))
    else:
        x = build_frontend(config)(x)
    x = keras.layers.Dropout(config.dropout, name="frame_dropout")(x)
    if config.recurrent_stride > 1:
        x, frame_mask = FrameDownsampling(config.recurrent_stride, name=DOWNSAMPLING)([x, frame_mask])
    for i in range(config.gru_layers):
        gru = keras.layers.GRU(
            config.gru_units,
            return_sequences=True,
            kernel_regularizer=reg,
            recurrent_regularizer=reg,
            name=f"gru{i + 1}",
        )
        if config.bidirectional:
            gru = keras.layers.Bidirectional(gru, name=f"bigru{i + 1}")
        x = gru(x, mask=frame_mask)

    outputs = {}
    bridged = bridge_pooled(config, x, frame_mask, inputs[TEXT_INPUT], reg) if TEXT_INPUT in inputs else {}
    for name in [t for t in config.tasks if t not in config.derived_tasks]:
        if config.modality == TEXT:  # the transcript alone: the bridge tokens
            pooled = bridged[name]
        elif config.attention:
            pooled, _ = AttentionPooling(
                return_attention=True,
                heads=config.pool_heads,
                statistics=config.pool_statistics,
                kernel_regularizer=reg,
                name=pooling_name(name),
            )(x, mask=frame_mask)
        else:
            pooled = LastStepPooling(name=pooling_name(name))(x, mask=frame_mask)
        if name in bridged and config.modality != TEXT:  # audio+text: the frames' pooling and the bridge tokens'
            pooled = keras.layers.Concatenate(name=f"{name}_fused")([pooled, bridged[name]])
        if config.head == "cosine":
            head = CosineSoftmax(len(config.classes(name)), config.head_scale, kernel_regularizer=reg, name=name,
                                 dtype=SIGNAL)
        else:
            head = keras.layers.Dense(
                len(config.classes(name)), activation="softmax", kernel_regularizer=reg, name=name, dtype=SIGNAL
            )
        outputs[name] = head(pooled)
    for name in config.derived_tasks:  # read off the emotion head (PROTOCOL.md's emotion -> level table)
        outputs[name] = ClassGrouping(emotion_groups(name, config.emotion_classes), len(LEVELS), name=name,
                                      dtype=SIGNAL)(outputs["emotion"])
    outputs = {name: outputs[name] for name in config.tasks}
    if config.speaker_adversarial and config.speakers > 1:
        outputs[SPEAKER] = speaker_adversary(config, x, frame_mask)
    if config.ctc_weight:
        logits = keras.layers.Dense(NUM_CLASSES, kernel_regularizer=reg, name="transcript_logits", dtype=SIGNAL)(x)
        outputs[TRANSCRIPT] = CTCOutput(name=TRANSCRIPT)(logits, mask=frame_mask)
    return keras.Model(inputs, outputs, name="kerasser")


def read_from_emotion(model: keras.Model, tasks: Collection[str],
                      emotion_classes: tuple[str, ...] = EMODB_EMOTIONS) -> keras.Model:
    """``model`` (sharing its layers and weights) with the outputs of ``tasks`` replaced by the
    emotion head's probabilities (over ``emotion_classes``, the model's) summed per level
    (``ModelConfig.readout_tasks``): what training scores on dev and saves as best.keras. The
    replaced heads are left out of the new graph; ``model`` itself when ``tasks`` is empty."""
    if not tasks:
        return model
    outputs = dict(model.output)
    for name in tasks:
        outputs[name] = ClassGrouping(emotion_groups(name, emotion_classes), len(LEVELS), name=name,
                                      dtype=SIGNAL)(outputs["emotion"])
    return keras.Model(model.input, outputs, name=model.name)


def speaker_adversary(config: ModelConfig, frames, frame_mask):
    """Mean of the GRU outputs over the valid frames -> gradient reversal -> Dense(128, ReLU) ->
    softmax over the training speakers (or corpora: ``ModelConfig.adversary``; ``speakers`` classes)."""
    # attention with a frozen zero scoring vector: uniform weights over the valid frames
    mean = AttentionPooling(kernel_initializer="zeros", trainable=False, name="speaker_mean")
    pooled = mean(frames, mask=frame_mask)
    x = GradientReversal(config.speaker_adversarial, name="speaker_reversal")(pooled)
    x = keras.layers.Dense(128, activation="relu", name="speaker_hidden")(x)
    return keras.layers.Dense(config.speakers, activation="softmax", name=SPEAKER, dtype=SIGNAL)(x)


def require_waveform_only(model: keras.Model, what: str) -> None:
    """SettingsError unless ``model`` takes the waveform alone: ``what`` (ensembles, distillation,
    saliency) cannot give a speaker-normalising model (``feature_norm="speaker"``) its references,
    nor a text model (``modality``) its transcripts."""
    if REFERENCE in model.input:
        raise SettingsError(
            f"the model normalises by speaker (feature_norm 'speaker') and needs each speaker's reference "
            f"beside the waveform; {what} take waveform-only models"
        )
    if TEXT_INPUT in model.input:
        raise SettingsError(f"the model reads the transcript beside the waveform (a text model); {what} take "
                            "waveform-only models")


def inference_model(model: keras.Model, transcript: bool = False) -> keras.Model:
    """``model`` without its training-only outputs: the speaker adversary, and the CTC head's
    ``transcript`` unless ``transcript`` is True (``model`` itself when there is nothing to drop).
    Its inputs stay as they are (a speaker-normalising model keeps its ``reference``)."""
    drop = {SPEAKER} | (set() if transcript else {TRANSCRIPT})
    if not drop & set(model.output):
        return model
    outputs = {k: v for k, v in model.output.items() if k not in drop}
    return keras.Model(model.input, outputs, name=model.name)


def with_attention_outputs(model: keras.Model) -> keras.Model:
    """The same graph with ``{task}_attention`` [batch, frames] outputs added for every task
    pooled by attention (weights over the frames; 0 on padding). A model that already has them
    (an ensemble, ``kerasser.training.ensemble``) is returned as it is. The speaker adversary is dropped;
    a CTC head's ``transcript`` stays (``inference_model`` decides whether a model has one)."""
    model = inference_model(model, transcript=True)
    outputs = dict(model.output)
    if any(name.endswith("_attention") for name in outputs):
        return model
    downsampling = next((layer for layer in model.layers if isinstance(layer, FrameDownsampling)), None)
    layer_names = {layer.name for layer in model.layers}
    for name in [n for n in outputs if n in TASKS and pooling_name(n) in layer_names]:  # (not derived tasks)
        layer = model.get_layer(pooling_name(name))
        if isinstance(layer, AttentionPooling):
            weights = layer.output[1]
            if downsampling is not None:  # one weight per frame, whatever the recurrent stride
                frame_mask = model.get_layer("frame_padding").output[1]
                weights = FrameUpsampling(downsampling.rate, name=f"{name}_attention_frames")(
                    [weights, frame_mask]
                )
            outputs[f"{name}_attention"] = weights
    for name in [n for n in outputs if n in TASKS and f"{n}_attention" not in outputs]:
        if "emotion_attention" in outputs:  # a task read off the emotion head: the emotion's frames
            outputs[f"{name}_attention"] = keras.layers.Identity(name=f"{name}_attention")(outputs["emotion_attention"])
    return keras.Model(model.input, outputs, name=model.name)


def compile_model(
    model: keras.Model,
    task_weights: dict[str, float],
    learning_rate,
    *,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    label_smoothing: float = 0.0,
    margin: float = 0.0,
    logit_scale: float = 30.0,
    learned: Collection[str] = (),
    ema_momentum: float = 0.0,
) -> None:
    """Adam (or AdamW with decoupled ``weight_decay``), one cross-entropy per task weighted by
    ``task_weights`` (w_m), with ``label_smoothing`` and an additive ``margin`` for cosine heads of
    ``logit_scale`` (AM-softmax; the ``transcript`` output, when weighted,
    gets the CTC loss); the L2 penalty comes from the layers' regularisers. ``learning_rate`` is
    a number or a schedule. Missing labels arrive as sample weight 0. The outputs in ``learned``
    also get a weight that training sets (``ScaledCrossentropy``; ``kerasser.model.uncertainty``). With
    ``ema_momentum`` the optimizer also keeps a moving average of the weights (``kerasser.model.weight_ema``)."""
    ema = dict(use_ema=True, ema_momentum=ema_momentum) if ema_momentum else {}
    if optimizer == "adamw":
        opt = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay, **ema)
    else:
        opt = keras.optimizers.Adam(learning_rate, **ema)
    model.compile(
        optimizer=opt,
        loss={t: output_loss(t, label_smoothing, t in learned, margin, logit_scale) for t in task_weights},
        loss_weights=dict(task_weights),
    )


def output_loss(output: str, label_smoothing: float, learned: bool, margin: float = 0.0,
                logit_scale: float = 30.0) -> keras.losses.Loss:
    """CTC for the ``transcript`` output, else the cross-entropy (times a learned weight if
    ``learned``; with ``margin``, AM-softmax for the task heads, not the speaker adversary's)."""
    if output == TRANSCRIPT:
        return CTCLoss()
    margin = margin if output in TASKS else 0.0
    if learned:
        return ScaledCrossentropy(label_smoothing, margin, logit_scale)
    return SparseCrossentropy(label_smoothing, margin, logit_scale)


def load_model(path: str | os.PathLike, compile: bool = False) -> keras.Model:
    """Load a kerasser ``.keras`` file (a run's ``best.keras``, an export's ``model.keras``).

    Its custom layers (``kerasser.model.layers``) are registered on import of this module, so this is
    ``keras.saving.load_model`` with them known; ``kerasser.load_model`` is the same function.
    Uncompiled by default (no optimizer state is needed to predict). A model saved under mixed
    precision comes back float32 (``as_float32``) unless ``compile`` (training resumes as saved)."""
    model = keras.saving.load_model(path, compile=compile)
    return model if compile else as_float32(model)


def _float32_policies(node):
    if isinstance(node, dict):
        if node.get("class_name") == "DTypePolicy" and isinstance(node.get("config"), dict):
            return {**node, "config": {**node["config"], "name": "float32"}}
        return {k: _float32_policies(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_float32_policies(v) for v in node]
    return node


def as_float32(model: keras.Model) -> keras.Model:
    """``model`` with every layer computing in float32 (the same weights): a model built under
    mixed precision, made ready for evaluation and export. ``model`` itself if it is already."""
    if all(layer.dtype_policy.name == "float32" for layer in model._flatten_layers(include_self=True)):
        return model
    rebuilt = model.__class__.from_config(_float32_policies(model.get_config()))
    rebuilt.set_weights(model.get_weights())
    return rebuilt
