"""One utterance -> one example: its samples (``load_utterance``) and its labels and weights
(``targets``), as NumPy values. Both the tf.data pipeline (``kerasser.data.dataset``) and
prepared TFRecord folders (``kerasser.data.records``) make their examples here, so the two agree.

What an example carries beyond the audio is one frozen :class:`ExampleSettings`: the tasks, the
sample rate, class or corpus weights, the speaker adversary's index, transcripts, agreement
weighting, distillation targets, the model's label space and the text input's vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from kerasser.data import audio
from kerasser.data.corpora.selection import speaker_key
from kerasser.data.corpora.utterance import Utterance
from kerasser.data.label_space import EMOTION_TASK, LabelSpace
from kerasser.data.windows import probe
from kerasser.progress import Write, writer
from kerasser.tasks import SPEAKER_TARGET, TRANSCRIPT_TARGET
from kerasser.text import encode
from kerasser.text_input import TEXT_INPUT, encode_tokens, serving_tokens

# Longer files are skipped (with a warning): a recording this long is not one utterance, and
# decoded whole it would take memory and a GRU pass out of proportion (an hour: 230 MB of samples).
MAX_SECONDS = 120.0


@dataclass(frozen=True)
class ExampleSettings:
    """What every example of a dataset is made with, besides its utterance.

    ``tasks``: the tasks labelled; ``sample_rate``: the model's input rate; ``weights_by_class``:
    ``class_weights`` or ``corpus_weights`` of :mod:`kerasser.data.dataset`; ``speaker_index``:
    adds the adversary's ``speaker`` target (``speaker_key`` -> class); ``transcripts``: adds the
    ``transcript`` target (the characters of ``kerasser.text.encode``, weight 0 when there is none);
    ``by_agreement``: every weight times the utterance's listener agreement (1 where unknown);
    ``soft_targets``: utterance path -> a distribution per task, the tasks' labels
    (``kerasser.training.distillation``); ``space``: the model's label space (training), so labels
    are head columns (see :func:`targets`); ``text_vocabulary``: a text model's characters
    (``kerasser.text_input``): the inputs get the transcript's ``text`` token ids (:func:`text_tokens`)."""

    tasks: tuple[str, ...]
    sample_rate: int = audio.SAMPLE_RATE
    weights_by_class: Mapping | None = None
    speaker_index: Mapping[str, int] | None = None
    transcripts: bool = False
    by_agreement: bool = False
    soft_targets: Mapping[str, Mapping[str, np.ndarray]] | None = None
    space: LabelSpace | None = None
    text_vocabulary: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tasks", tuple(self.tasks))
        if self.text_vocabulary is not None:
            object.__setattr__(self, "text_vocabulary", tuple(self.text_vocabulary))

    @property
    def target_names(self) -> tuple[str, ...]:
        """The tasks, then the speaker and transcript targets where they are made."""
        return (self.tasks + ((SPEAKER_TARGET,) if self.speaker_index is not None else ())
                + ((TRANSCRIPT_TARGET,) if self.transcripts else ()))


class DecodeLog:
    """Remembers which files failed to decode, each reported once through ``write``."""

    def __init__(self, write: Write | None = None) -> None:
        self.failed: dict[str, str] = {}
        self.write = writer(write)

    def report(self, error: audio.AudioError) -> None:
        if error.path not in self.failed:
            self.failed[error.path] = error.reason
            self.write(f"warning: skipped {error}")


def load_utterance(path: str, sample_rate: int) -> np.ndarray:
    """The samples of one utterance file at ``sample_rate``; AudioError for a file that cannot be
    decoded or that lasts over :data:`MAX_SECONDS`."""
    seconds = probe(path).duration
    if seconds > MAX_SECONDS:
        raise audio.AudioError(
            path, f"{seconds:.0f} s long, over the {MAX_SECONDS:.0f} s an utterance may last "
            "(cut it into utterances to train or evaluate on it)"
        )
    return audio.load(path, sample_rate)


def _class_weighted(utt: Utterance, settings: ExampleSettings, vocabulary: dict, weights: dict) -> dict:
    for t, w in weights.items():
        table = settings.weights_by_class[t]
        table = table.get(utt.corpus) if isinstance(table, Mapping) else table
        weights[t] = np.float32(w * table[vocabulary[t]]) if table is not None else np.float32(0.0)
    return weights


def targets(utt: Utterance, settings: ExampleSettings) -> tuple[dict, dict]:
    """``(labels, weights)`` of one utterance as ``examples`` yields them (NumPy values); with
    ``soft_targets``, the tasks' labels are the utterance's distributions. With ``space``
    (training) the labels are the model's head columns (an emotion the head lacks gets weight 0), and
    with a masked space the emotion label is ``[target, the corpus' class mask]``. Without it they are
    vocabulary indices, as scoring takes them."""
    tasks, space = settings.tasks, settings.space
    vocabulary = {t: int(utt.labels.get(t, 0)) for t in tasks}
    weights = {t: np.float32(t in utt.labels) for t in tasks}
    labels = {t: np.int32(i) for t, i in vocabulary.items()}
    if space is not None:
        for t in tasks:
            label = space.head_index(t, vocabulary[t])
            labels[t] = np.int32(0 if label is None else label)
            weights[t] = np.float32(weights[t] if label is not None else 0.0)
    if settings.weights_by_class:
        weights = _class_weighted(utt, settings, vocabulary, weights)
    if settings.soft_targets is not None:
        soft = settings.soft_targets[utt.path]
        labels = {t: np.asarray(soft[t], np.float32) for t in tasks}
    if space is not None and space.masked and EMOTION_TASK in labels:
        labels[EMOTION_TASK] = space.target(utt.corpus, labels[EMOTION_TASK])
    if settings.by_agreement and utt.agreement is not None:
        weights = {t: np.float32(w * utt.agreement) for t, w in weights.items()}
    if settings.speaker_index is not None:
        labels[SPEAKER_TARGET] = np.int32(settings.speaker_index[speaker_key(utt)])
        weights[SPEAKER_TARGET] = np.float32(1.0)
    if settings.transcripts:
        characters = encode(utt.transcript or "")
        labels[TRANSCRIPT_TARGET] = np.array(characters, np.int32)
        weights[TRANSCRIPT_TARGET] = np.float32(bool(characters))
    return labels, weights


def text_tokens(utt: Utterance, settings: ExampleSettings) -> np.ndarray:
    """The ``text`` input of one utterance: its transcript's token ids; ``[PAD]`` (masked: no text)
    without one, so a batch's text is never zero tokens long (as on TFLite)."""
    return serving_tokens(encode_tokens(utt.transcript, settings.text_vocabulary or ()))


def inputs_of(utt: Utterance, wave: np.ndarray, settings: ExampleSettings) -> dict:
    """``{"waveform", "length"}``, and ``"text"`` for a text model (``settings.text_vocabulary``)."""
    inputs = {"waveform": wave, "length": np.int32(len(wave))}
    if settings.text_vocabulary is not None:
        inputs[TEXT_INPUT] = text_tokens(utt, settings)
    return inputs


def examples(utterances: Sequence[Utterance], settings: ExampleSettings, log: DecodeLog | None = None) -> Iterator:
    """Yield decoded ``(inputs, labels, weights)`` as NumPy values, skipping (and logging)
    undecodable files; ``inputs`` is ``{"waveform", "length"}`` (and ``"text"``: :func:`inputs_of`)."""
    log = log or DecodeLog()
    for utt in utterances:
        try:
            wave = load_utterance(utt.path, settings.sample_rate)
        except audio.AudioError as error:
            log.report(error)
            continue
        labels, weights = targets(utt, settings)
        yield inputs_of(utt, wave, settings), labels, weights
