"""The text input of audio+text models (``ModelConfig.modality``): modalities, the transcript's
character vocabulary, and its token ids.

A model that reads text takes a second input, ``text``: int32 token ids [batch, tokens]. The
tokens are characters of the transcript after :func:`normalize` (lower case, bracketed
annotations such as IEMOCAP's ``[LAUGHTER]`` removed, runs of white space made one space). The
vocabulary is built from the training transcripts (:func:`build_vocabulary`: the characters seen
at least ``MIN_COUNT`` times, sorted) and stored with the model (``ModelConfig.text_vocabulary``,
an export's ``metadata.json`` ``text_input``), so training, evaluation, labelling and export all
encode alike with :func:`encode_tokens`: id ``PAD`` (0) is padding, ``OOV`` (1) any character not
in the vocabulary, ``2 + i`` the vocabulary's ``i``-th character. At most ``MAX_TOKENS`` tokens
are kept. No text (None, an empty or blank transcript) is an empty sequence, which the model
masks out entirely: it then predicts from the audio alone (training drops the text at random,
``modality_dropout``, so that it learns to). On TFLite an empty sequence is given as one ``PAD``
(``[PAD]``, masked alike): a tensor dimension of 0 is not resized to.

Plain Python and NumPy: the labelling path (LiteRT) encodes with it, never importing TensorFlow.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

AUDIO, TEXT, AUDIO_TEXT = "audio", "text", "audio+text"
MODALITIES = (AUDIO, TEXT, AUDIO_TEXT)
TEXT_INPUT = "text"  # the models' (and the serving contract's) input name
PAD, OOV = 0, 1
MAX_TOKENS = 512
MIN_COUNT = 2  # a character seen once in training is OOV: the OOV id is trained too
_ANNOTATION = re.compile(r"\[[^\]]*\]|<[^>]*>")


def reads_text(modality: str) -> bool:
    """Whether a model of ``modality`` takes the ``text`` input."""
    return modality in (TEXT, AUDIO_TEXT)


def input_vocabulary(model) -> tuple[str, ...] | None:
    """The characters of a ``ModelConfig``'s ``text`` input; None for an audio model (no input)."""
    return tuple(model.text_vocabulary) if reads_text(model.modality) else None


def frame_attention(model) -> bool:
    """Whether a model of ``ModelConfig`` ``model`` gives ``{task}_attention`` outputs over its
    frames: models that pool the frames by attention (a text-only model has no frames to pool)."""
    return bool(model.attention) and model.modality != TEXT


def normalize(text: str | None) -> str:
    """Lower case, bracketed annotations removed, white space runs made one space, stripped."""
    if not text:
        return ""
    return " ".join(_ANNOTATION.sub(" ", str(text).lower()).split())


def build_vocabulary(transcripts: Iterable[str | None], min_count: int = MIN_COUNT) -> tuple[str, ...]:
    """The characters of the normalised ``transcripts`` seen at least ``min_count`` times, sorted."""
    counts = Counter(c for t in transcripts for c in normalize(t))
    return tuple(sorted(c for c, n in counts.items() if n >= min_count))


def vocabulary_size(vocabulary: Sequence[str]) -> int:
    """The embedding rows a model of ``vocabulary`` needs: ``PAD``, ``OOV`` and one per character."""
    return len(vocabulary) + 2


def encode_tokens(text: str | None, vocabulary: Sequence[str], max_tokens: int = MAX_TOKENS) -> np.ndarray:
    """int32 token ids of ``normalize(text)`` (see the module docstring); [] for no text."""
    index = {c: i + 2 for i, c in enumerate(vocabulary)}
    return np.array([index.get(c, OOV) for c in normalize(text)[:max_tokens]], np.int32)


def serving_tokens(ids: np.ndarray) -> np.ndarray:
    """``ids`` as a model's ``text`` input row takes it on TFLite: ``[PAD]`` for an empty sequence."""
    ids = np.asarray(ids, np.int32).reshape(-1)
    return ids if ids.size else np.array([PAD], np.int32)


def check_modality(model) -> str | None:
    """What is wrong with a ``ModelConfig``'s text settings (None when nothing is)."""
    if model.modality not in MODALITIES:
        return f"modality must be one of {', '.join(MODALITIES)}, not {model.modality!r}"
    if model.bridge_tokens < 1:
        return f"bridge_tokens must be at least 1, not {model.bridge_tokens}"
    if not 0.0 <= model.modality_dropout < 1.0:
        return f"modality_dropout must be in [0, 1), not {model.modality_dropout}"
    if len(set(model.text_vocabulary)) != len(model.text_vocabulary) or any(
            not isinstance(c, str) or len(c) != 1 for c in model.text_vocabulary):
        return "text_vocabulary must be distinct single characters"
    if model.modality == TEXT and (model.ctc_weight or model.speaker_adversarial):
        return "a text-only model has no acoustic encoder for a CTC head or an adversary"
    if reads_text(model.modality) and model.feature_norm == "speaker":
        return "audio+text models normalise each clip by itself (not feature_norm 'speaker')"
    return None
