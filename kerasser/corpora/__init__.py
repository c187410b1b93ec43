"""Corpus readers: each turns a corpus folder (or a CSV manifest) into a list of :class:`Utterance`.

Readers only list files and labels; they never load audio (see :mod:`kerasser.audio`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from kerasser.corpora.baved import read_baved
from kerasser.corpora.emodb import read_emodb
from kerasser.corpora.iemocap import read_iemocap
from kerasser.corpora.manifest import read_manifest
from kerasser.corpora.ravdess import PROTOCOL_FOLDS as RAVDESS_FOLDS
from kerasser.corpora.ravdess import read_ravdess
from kerasser.corpora.selection import read_corpora, select, speaker_key, speakers
from kerasser.corpora.utterance import CorpusError, Utterance


def read_tfrecord(path: str | os.PathLike) -> list[Utterance]:
    """A folder made by ``kerasser prepare`` (``kerasser.records``): its utterances read from its
    index, their samples from its shards."""
    from kerasser.records import read_prepared

    return read_prepared(path)


# Speaker groups PROTOCOL.md gives for cross-validation (``kerasser crossval --folds protocol``).
PROTOCOL_FOLDS: dict[str, tuple[tuple[str, ...], ...]] = {"ravdess": RAVDESS_FOLDS}

READERS: dict[str, Callable[[str | os.PathLike], list[Utterance]]] = {
    "emodb": read_emodb,
    "baved": read_baved,
    "iemocap": read_iemocap,
    "ravdess": read_ravdess,
    "manifest": read_manifest,
    "tfrecord": read_tfrecord,
}


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
    "read_tfrecord",
    "select",
    "speaker_key",
    "speakers",
]
