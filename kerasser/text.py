"""Characters for the CTC auxiliary task (Cai et al., Interspeech 2021): the alphabet, text
normalisation, encoding, greedy CTC decoding and the character error rate.

Class 0 of a CTC output is the blank; classes 1..len(ALPHABET) are ``ALPHABET``'s characters.
Transcripts are normalised before encoding: lower case, bracketed annotations (IEMOCAP's
``[LAUGHTER]``) removed, every character outside the alphabet dropped (punctuation, digits) and
runs of spaces collapsed, so every corpus maps onto the same targets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

# English and German letters; the space separates words. Characters of other scripts (BAVED has
# no transcripts) are dropped by ``normalize``.
ALPHABET = " 'abcdefghijklmnopqrstuvwxyzäöüß"
BLANK = 0
NUM_CLASSES = len(ALPHABET) + 1  # the blank first
_INDEX = {c: i + 1 for i, c in enumerate(ALPHABET)}
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|<[^>]*>")


def normalize(text: str) -> str:
    """Lower case, annotations removed, only ``ALPHABET`` characters kept, single spaces, stripped."""
    text = _ANNOTATION.sub(" ", text.lower())
    kept = "".join(c if c in _INDEX else (" " if c.isspace() or c in "-/" else "") for c in text)
    return " ".join(kept.split())


def encode(text: str) -> list[int]:
    """Class indices (1..) of ``normalize(text)``."""
    return [_INDEX[c] for c in normalize(text)]


def decode(indices: Sequence[int]) -> str:
    """Characters of class indices (blanks and out-of-range indices skipped)."""
    return "".join(ALPHABET[i - 1] for i in indices if 0 < i <= len(ALPHABET))


def greedy_decode(scores: np.ndarray) -> str:
    """Best path decoding of one utterance's CTC output [steps, NUM_CLASSES] (probabilities or
    log-probabilities): the most likely class per step, repeats merged, blanks removed."""
    best = np.argmax(np.asarray(scores), axis=-1)
    merged = [int(c) for i, c in enumerate(best) if i == 0 or c != best[i - 1]]
    return decode([c for c in merged if c != BLANK])


def edit_distance(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance (insertions, deletions, substitutions cost 1)."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def cer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Character error rate in %: total edit distance over total reference characters (after
    ``normalize``), the usual corpus-level CER."""
    refs = [normalize(r) for r in references]
    errors = sum(edit_distance(r, normalize(h)) for r, h in zip(refs, hypotheses, strict=True))
    total = sum(len(r) for r in refs)
    return 100.0 * errors / total if total else float("nan")
