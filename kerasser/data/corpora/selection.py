"""Which utterances a run uses: read its corpora, reassign splits for cross-validation, select.

``speaker_key`` names a speaker across corpora (``"emodb:03"``), so speaker ids that two corpora
share never collide in a fold.
"""

from __future__ import annotations

from collections.abc import Sequence

from kerasser.data.corpora.utterance import Utterance


def speaker_key(utterance: Utterance) -> str:
    return f"{utterance.corpus}:{utterance.speaker}"


def select(
    utterances: Sequence[Utterance], splits: str | Sequence[str], tasks: Sequence[str]
) -> list[Utterance]:
    """Utterances of ``splits`` (one name or several) with a label for at least one of ``tasks``."""
    splits = (splits,) if isinstance(splits, str) else tuple(splits)
    return [u for u in utterances if u.split in splits and any(t in u.labels for t in tasks)]


def speakers(utterances: Sequence[Utterance]) -> list[str]:
    """The distinct ``speaker_key`` of ``utterances``, sorted."""
    return sorted({speaker_key(u) for u in utterances})
