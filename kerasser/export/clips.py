"""Real clips for an export's checks: parity clips (test split first) and calibration audio."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from kerasser.data import audio
from kerasser.data.corpora import Utterance, select, speaker_key
from kerasser.errors import DataError


def spread(items: Sequence, n: int) -> list:
    """Up to ``n`` items evenly spread over ``items``, in order."""
    if len(items) <= n:
        return list(items)
    return [items[int(i * len(items) / n)] for i in range(n)]


def load_clips(
    utterances: Sequence[Utterance], write: Callable[[str], None], sample_rate: int
) -> list[tuple[Utterance, np.ndarray]]:
    """``(utterance, waveform at sample_rate)`` of each decodable file; a warning for the rest.
    Utterances of a prepared TFRecord folder are read from its shards (in its order)."""
    if utterances and all(u.record is not None for u in utterances):
        from kerasser.data import records
        if records.read_index(utterances[0].record[0])["sample_rate"] != sample_rate:
            raise DataError(f"{utterances[0].record[0]}: not prepared at {sample_rate} Hz (the model takes it)")
        return list(records.waveforms(utterances))
    loaded = []
    for u in utterances:
        try:
            loaded.append((u, audio.load(u.path, sample_rate)))
        except audio.AudioError as error:
            write(f"warning: skipped {error}")
    return loaded


def parity_clips(
    utterances: Sequence[Utterance],
    tasks: Sequence[str],
    n: int,
    write: Callable[[str], None],
    sample_rate: int = audio.SAMPLE_RATE,
) -> list[tuple[Utterance, np.ndarray]]:
    """``n`` decodable clips: test split first (spread over it), then dev, then the rest."""
    chosen: list[tuple[Utterance, np.ndarray]] = []
    used: set[str] = set()
    for split in ("test", "dev", "train", None):
        pool = [u for u in utterances if u.split == split and u.path not in used]
        if split is not None:
            pool = select(pool, split, tasks)
        for u, wave in load_clips(spread(pool, n - len(chosen)), write, sample_rate):
            chosen.append((u, wave))
            used.add(u.path)
        if len(chosen) >= n:
            break
    return chosen


def clip_references(
    clips: Sequence[tuple[Utterance, np.ndarray]], statistics: Callable[[np.ndarray], dict] | None
) -> list[np.ndarray | None]:
    """Per clip, its speaker's reference over the speaker's clips among ``clips``
    (``statistics``: a speaker-normalising model's ``KerasRunner.statistics``); all None for a
    model without (``statistics`` None)."""
    if statistics is None:
        return [None] * len(clips)
    from kerasser.contract import FRAMES, LOG_MEL_SUM
    from kerasser.serve.inference import reference_of

    stats = [statistics(wave) for _, wave in clips]
    by_speaker: dict[str, list] = {}
    for (u, _), s in zip(clips, stats):
        by_speaker.setdefault(speaker_key(u), []).append((s[LOG_MEL_SUM], s[FRAMES]))
    references = {speaker: reference_of(items) for speaker, items in by_speaker.items()}
    return [references[speaker_key(u)] for u, _ in clips]


def clip_texts(clips: Sequence[tuple[Utterance, np.ndarray]], vocabulary: Sequence[str] | None) -> list | None:
    """Per clip, its transcript's ``text`` token ids for a text model of ``vocabulary`` (``[0]``
    without a transcript, as the serving contract gives none); None for an audio model."""
    if vocabulary is None:
        return None
    from kerasser.text_input import encode_tokens, serving_tokens

    return [serving_tokens(encode_tokens(u.transcript, vocabulary)) for u, _ in clips]
