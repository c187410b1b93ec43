"""Which utterances a run uses: read its corpora, reassign splits for cross-validation, select.

``speaker_key`` names a speaker across corpora (``"emodb:03"``), so speaker ids that two corpora
share never collide in a fold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from kerasser.corpora.utterance import Utterance


def speaker_key(utterance: Utterance) -> str:
    return f"{utterance.corpus}:{utterance.speaker}"


def read_corpora(
    corpora: Sequence[tuple[str, str]],
    speaker_splits: Sequence[tuple[str, Sequence[str]]] | None = None,
    allow_duplicates: bool = False,
) -> list[Utterance]:
    """All utterances of the ``(reader, path)`` pairs, in order (``allow_duplicates``: as for
    ``read_corpus``).

    With ``speaker_splits`` (``((split, (speaker_key, ...)), ...)``), each utterance's split is
    the one that lists its speaker, and speakers listed nowhere get no split (never selected)."""
    from kerasser.corpora import read_corpus

    utterances: list[Utterance] = []
    for name, path in corpora:
        utterances.extend(read_corpus(name, path, allow_duplicates=allow_duplicates))
    if speaker_splits is not None:
        split_of = {spk: split for split, speakers in speaker_splits for spk in speakers}
        utterances = [dataclasses.replace(u, split=split_of.get(speaker_key(u))) for u in utterances]
    return utterances


def select(
    utterances: Sequence[Utterance], splits: str | Sequence[str], tasks: Sequence[str]
) -> list[Utterance]:
    """Utterances of ``splits`` (one name or several) with a label for at least one of ``tasks``."""
    splits = (splits,) if isinstance(splits, str) else tuple(splits)
    return [u for u in utterances if u.split in splits and any(t in u.labels for t in tasks)]


def speakers(utterances: Sequence[Utterance]) -> list[str]:
    """The distinct ``speaker_key`` of ``utterances``, sorted."""
    return sorted({speaker_key(u) for u in utterances})
