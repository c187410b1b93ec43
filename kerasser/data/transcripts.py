"""Transcripts as the text input of audio+text models (``kerasser.text_input``): the vocabulary a
run fits to its training transcripts, the transcripts of files to label (``kerasser label
--transcripts CSV``), and utterances without their text (the text-missing evaluation).

Where transcripts come from in training: a manifest's ``text`` (or ``transcript``) column,
IEMOCAP's transcriptions, EmoDB's spoken words (``silb/``) and RAVDESS's statement (the corpus
readers fill ``Utterance.transcript``).
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from kerasser.config import TrainConfig, save_json
from kerasser.data.corpora.manifest import csv_rows
from kerasser.data.corpora.utterance import CorpusError, Utterance
from kerasser.errors import DataError
from kerasser.text_input import build_vocabulary, reads_text


def fit_text_vocabulary(config: TrainConfig, train_utts: Sequence[Utterance], paths,
                        write: Callable[[str], None]) -> TrainConfig:
    """``config`` with a text model's character vocabulary built from the training transcripts
    and saved to the run's config.json (``paths``: its ``RunPaths``); a vocabulary the config
    already has (a resumed run's) is kept. DataError when no training utterance has a transcript."""
    if not reads_text(config.model.modality):
        return config
    with_text = sum(bool(u.transcript and u.transcript.strip()) for u in train_utts)
    if not with_text:
        raise DataError(f"modality {config.model.modality} needs transcripts, and none of the {len(train_utts)} "
                        "training utterances has one (a manifest's text column, IEMOCAP, EmoDB or RAVDESS)")
    vocabulary = config.model.text_vocabulary or build_vocabulary(u.transcript for u in train_utts)
    write(f"text input ({config.model.modality}): {with_text} of {len(train_utts)} training utterances have a "
          f"transcript; {len(vocabulary)} characters")
    if vocabulary != config.model.text_vocabulary:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, text_vocabulary=vocabulary))
        save_json(config, paths.config)
    return config


def without_text(utterances: Sequence[Utterance]) -> list[Utterance]:
    """``utterances`` with no transcript: what a text model sees when the text is missing."""
    return [dataclasses.replace(u, transcript=None) for u in utterances]


def read_transcripts(csv_path: str | os.PathLike) -> dict[str, str]:
    """``{absolute audio path: text}`` from a CSV with a ``path`` and a ``text`` (or ``transcript``)
    column (header names case-insensitive; relative paths resolved against the CSV's folder). An
    empty text is no transcript. CorpusError naming the CSV and the line for a missing column, an
    empty path, a malformed row, or a file listed twice."""
    path = Path(csv_path).expanduser().absolute()
    if not path.is_file():
        raise CorpusError(path, "no such transcripts file" if not path.exists() else "not a file (expected a CSV)")
    texts: dict[str, str] = {}
    lines: dict[str, int] = {}
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, strict=True)
            header = [h.strip().lower() for h in next(reader, [])]
            if "path" not in header or not {"text", "transcript"} & set(header):
                raise CorpusError(path, "a transcripts CSV needs a 'path' and a 'text' column", line=1)
            where, what = header.index("path"), header.index("text" if "text" in header else "transcript")
            for line, row in csv_rows(path, reader):
                audio = row[where].strip() if where < len(row) else ""
                if not audio:
                    raise CorpusError(path, "empty path", line=line)
                key = os.path.abspath(os.path.join(path.parent, os.path.expanduser(audio)))
                if key in lines:
                    raise CorpusError(path, f"{audio} is also listed on line {lines[key]}; list each file once", line=line)
                lines[key] = line
                text = row[what].strip() if what < len(row) else ""
                if text:
                    texts[key] = text
    except UnicodeDecodeError as err:
        raise CorpusError(path, f"not UTF-8 text ({err.reason} at byte {err.start})") from None
    except OSError as err:
        raise CorpusError(path, f"cannot read ({err.strerror or err})") from None
    return texts


def transcript_table(csv_path: str | os.PathLike) -> Callable[[str], str | None]:
    """``text_of(path)``: the transcript :func:`read_transcripts` gives a file (matched by its
    resolved path, so a relative or linked path finds it), None for a file the CSV does not name."""
    texts = {os.path.realpath(p): t for p, t in read_transcripts(csv_path).items()}

    def text_of(path: str) -> str | None:
        return texts.get(os.path.realpath(os.path.abspath(path)))

    return text_of
