"""Corpus readers: each turns a corpus folder (or a CSV manifest) into a list of :class:`Utterance`.

Readers only list files and labels; they never load audio (see :mod:`kerasser.data.audio`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from kerasser.data.corpora.baved import read_baved
from kerasser.data.corpora.emodb import read_emodb
from kerasser.data.corpora.iemocap import read_iemocap
from kerasser.data.corpora.manifest import read_manifest
from kerasser.data.corpora.ravdess import PROTOCOL_FOLDS as RAVDESS_FOLDS
from kerasser.data.corpora.ravdess import read_ravdess
from kerasser.data.corpora.selection import select, speaker_key, speakers
from kerasser.data.corpora.utterance import CorpusError, Utterance

# Speaker groups PROTOCOL.md gives for cross-validation (``kerasser crossval --folds protocol``).
PROTOCOL_FOLDS: dict[str, tuple[tuple[str, ...], ...]] = {"ravdess": RAVDESS_FOLDS}

READERS: dict[str, Callable[[str | os.PathLike], list[Utterance]]] = {
    "emodb": read_emodb,
    "baved": read_baved,
    "iemocap": read_iemocap,
    "ravdess": read_ravdess,
    "manifest": read_manifest,
}


def register_reader(name: str, reader: Callable[[str | os.PathLike], list[Utterance]]) -> None:
    """Adds ``reader`` as corpus ``name`` (``--corpus NAME``). Readers that need more than this
    package register themselves: ``kerasser.data.records`` adds ``tfrecord`` (folders made by
    ``kerasser prepare``), and ``kerasser.data`` imports it, so any use of the data room has it."""
    READERS[name] = reader


def read_corpus(name: str, path: str | os.PathLike, allow_duplicates: bool = False) -> list[Utterance]:
    """Utterances of corpus ``name`` (a key of :data:`READERS`) at ``path``. ``allow_duplicates``:
    a manifest may list a file twice (see :func:`read_manifest`)."""
    key = name.strip().lower()
    if key not in READERS:
        raise CorpusError(path, f"unknown corpus {name!r}; expected one of {', '.join(READERS)}")
    if not Path(path).expanduser().exists():
        raise CorpusError(path, "no such file or folder")
    if key == "manifest":
        return read_manifest(path, allow_duplicates=allow_duplicates)
    return READERS[key](path)


def read_corpora(
    corpora: Sequence[tuple[str, str]],
    speaker_splits: Sequence[tuple[str, Sequence[str]]] | None = None,
    allow_duplicates: bool = False,
) -> list[Utterance]:
    """All utterances of the ``(reader, path)`` pairs, in order (``allow_duplicates``: as for
    ``read_corpus``).

    With ``speaker_splits`` (``((split, (speaker_key, ...)), ...)``), each utterance's split is
    the one that lists its speaker, and speakers listed nowhere get no split (never selected)."""
    utterances: list[Utterance] = []
    first: dict[str, tuple[str, str]] = {}  # a file's real path -> the corpus (reader, path) listing it first
    for name, path in corpora:
        read = read_corpus(name, path, allow_duplicates=allow_duplicates)
        if not allow_duplicates and len(corpora) > 1:
            _check_across(read, (name, os.fspath(path)), first)
        utterances.extend(read)
    if speaker_splits is not None:
        split_of = {spk: split for split, speakers in speaker_splits for spk in speakers}
        utterances = [dataclasses.replace(u, split=split_of.get(speaker_key(u))) for u in utterances]
    return utterances


def _check_across(read: list[Utterance], corpus: tuple[str, str], first: dict[str, tuple[str, str]]) -> None:
    """CorpusError when a file of ``corpus`` was listed by an earlier corpus of the same run: in two
    corpora it counts twice, and in two splits it leaks what is tested into training."""
    for utterance in read:
        key = os.path.realpath(utterance.path)
        other = first.setdefault(key, corpus)
        if other != corpus:
            raise CorpusError(corpus[1], f"{utterance.path} is also in corpus {other[0]} ({other[1]}); "
                                         "list each file in one corpus only")


__all__ = [
    "PROTOCOL_FOLDS",
    "READERS",
    "CorpusError",
    "Utterance",
    "read_baved",
    "read_corpora",
    "read_corpus",
    "read_emodb",
    "read_iemocap",
    "read_manifest",
    "read_ravdess",
    "register_reader",
    "select",
    "speaker_key",
    "speakers",
]
