"""Audio and text together: bridge tokens and cross-attention (``ModelConfig.modality``).

After the multi-modal source paper: each modality's features are refined by self-attention, a
few learnable *bridge tokens* merge the acoustic and the linguistic features through
cross-attention, and multi-task heads on the bridge tokens predict the categorical and the
dimensional emotions together. Here:

- acoustic branch (``audio+text``): the audio model's front end and GRU encoder, its outputs
  projected to ``gru_units`` (``acoustic_projection``) and refined by ``SelfAttention``
  (``acoustic_attention``, masked by the frame mask);
- linguistic branch: the transcript's characters (``kerasser.text_input``; a vocabulary built
  from the training transcripts, trained from scratch) embedded (``TokenEmbedding``, sinusoidal
  positions), a 'same' convolution over 5 characters for letter n-grams (``text_conv``), and
  ``SelfAttention`` (``text_attention``, masked by the token mask);
- ``ModalityDropout`` (training only, ``modality_dropout``): some examples lose their text (and
  fewer their audio), so the model also predicts from the audio alone (and learns to read the text);
- ``BridgeFusion``: ``bridge_tokens`` learnable tokens cross-attend to both (a modality with no
  real step, such as a missing transcript, adds exactly nothing);
- heads: per task, attention pooling over the bridge tokens (``{task}_bridge_pooling``),
  concatenated (``{task}_fused``) with the audio model's own pooling of the frames
  (``{task}_pooling``), then the task's classifier (``kerasser.model.network``). The audio model
  is thus a part of the fusion model: with no text the bridge tokens hold the audio alone, and
  the heads still have the pooling an audio model has (and its per-frame attention outputs).

``text`` models have the linguistic branch alone, and their heads the bridge tokens alone (their
``waveform`` and ``length`` inputs are kept, unused, so every model takes the same inputs; they
give no per-frame attention outputs).
"""

from __future__ import annotations

import keras

from kerasser.config import ModelConfig
from kerasser.model.layers import (
    AttentionPooling,
    BridgeFusion,
    ModalityDropout,
    SelfAttention,
    TokenEmbedding,
)
from kerasser.text_input import AUDIO_TEXT, TEXT_INPUT, vocabulary_size

TEXT_CONV_WIDTH = 5


def bridge_pooling_name(task: str) -> str:
    return f"{task}_bridge_pooling"


def attention_heads(units: int) -> int:
    """Attention heads of a fusion width: 4 where they divide it, else 2, else 1."""
    return next(h for h in (4, 2, 1) if units % h == 0)


def text_input() -> keras.KerasTensor:
    """The ``text`` input: int32 token ids [batch, tokens], 0 = padding."""
    return keras.Input((None,), dtype="int32", name=TEXT_INPUT)


def bridge_pooled(config: ModelConfig, frames, frame_mask, text_ids, regularizer) -> dict:
    """``{task: pooled bridge tokens}`` for the tasks with a head of their own (see the module
    docstring); ``frames`` [batch, steps, features] are the GRU outputs and ``frame_mask`` theirs."""
    units = config.gru_units
    heads = attention_heads(units)
    tokens, text_mask = TokenEmbedding(vocabulary_size(config.text_vocabulary), units, name="text_embedding")(text_ids)
    tokens = keras.layers.Conv1D(units, TEXT_CONV_WIDTH, padding="same", activation="relu",
                                 kernel_regularizer=regularizer, name="text_conv")(tokens)
    tokens = SelfAttention(heads, dropout=config.dropout, name="text_attention")(tokens, mask=text_mask)
    modalities = []
    if config.modality == AUDIO_TEXT:
        acoustic = keras.layers.Dense(units, kernel_regularizer=regularizer, name="acoustic_projection")(frames)
        acoustic = SelfAttention(heads, dropout=config.dropout, name="acoustic_attention")(acoustic, mask=frame_mask)
        audio_mask = frame_mask
        if config.modality_dropout:
            audio_mask, text_mask = ModalityDropout(config.modality_dropout, name="modality_dropout")(
                [frame_mask, text_mask])
        modalities = [acoustic, audio_mask]
    fused = BridgeFusion(config.bridge_tokens, modalities=len(modalities) // 2 + 1, heads=heads,
                         name="bridge_fusion")([*modalities, tokens, text_mask])
    fused = keras.layers.Dropout(config.dropout, name="bridge_dropout")(fused)
    return {
        task: AttentionPooling(kernel_regularizer=regularizer, name=bridge_pooling_name(task))(fused)
        for task in config.tasks if task not in config.derived_tasks
    }
