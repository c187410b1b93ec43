"""kerasser.text (CTC characters: normalisation, encoding, greedy decoding, CER) and the
transcripts the corpus readers give (EmoDB's words inside the 2.0 s cut, manifests' text)."""

from __future__ import annotations

import numpy as np
import pytest

from kerasser.data.corpora.emodb import spoken_words
from kerasser.text import (
    ALPHABET,
    BLANK,
    NUM_CLASSES,
    cer,
    decode,
    edit_distance,
    encode,
    greedy_decode,
    normalize,
)


def test_normalize():
    assert normalize("  Der Lappen liegt auf dem Eisschrank. ") == "der lappen liegt auf dem eisschrank"
    assert normalize("Yeah, I have [LAUGHTER] them -- right here!") == "yeah i have them right here"
    assert normalize("Was sind denn das für Tüten?") == "was sind denn das für tüten"
    assert normalize("don't 42 (breathing)") == "don't"
    assert normalize("مرحبا") == ""  # other scripts: no targets


def test_encode_decode_round_trip():
    ids = encode("Über Straße!")
    assert all(0 < i < NUM_CLASSES for i in ids) and BLANK == 0 and NUM_CLASSES == len(ALPHABET) + 1
    assert decode(ids) == "über straße"


def test_greedy_decode_of_a_hand_made_posterior():
    """Per step: h h <blank> e l <blank> l o -> "hello" (repeats merge, a blank separates the two l's)."""
    path = ["h", "h", None, "e", "l", None, "l", "o", None]
    scores = np.full((len(path), NUM_CLASSES), 0.01)
    for t, c in enumerate(path):
        scores[t, BLANK if c is None else encode(c)[0]] = 0.9
    assert greedy_decode(scores) == "hello"
    assert greedy_decode(np.log(scores)) == "hello"  # log-probabilities too
    assert greedy_decode(np.eye(NUM_CLASSES)[[BLANK] * 4]) == ""


def test_edit_distance_and_cer():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "abc") == 0
    # 1 substitution in 5 characters + 1 deletion in 3: 2 errors over 8 reference characters
    assert cer(["Hello", "abc"], ["hallo", "ab"]) == pytest.approx(25.0)
    assert np.isnan(cer(["..."], ["x"]))  # no reference characters


SYLLABLES = [(0.08, "der"), (0.24, "la"), (0.43, "pen"), (0.64, "liegt"), (0.87, "auf"), (0.98, "dem"),
             (1.15, "eis"), (2.40, "schrank"), (2.84, ".")]


@pytest.mark.parametrize("duration, expected", [
    (3.0, "Der Lappen liegt auf dem Eisschrank."),
    (2.0, "Der Lappen liegt auf dem"),  # Eis- ends at 1.15 s but -schrank at 2.40 s: the word is cut
    (0.5, "Der Lappen"),  # 'la pen' (one p) still ends Lappen
    (0.05, ""),
])
def test_spoken_words_keeps_the_words_inside_the_audio(duration, expected):
    assert spoken_words("Der Lappen liegt auf dem Eisschrank.", SYLLABLES, duration) == expected


def test_emodb_transcripts_stop_at_the_cut(shared_data):
    from kerasser.data.corpora import read_corpus

    by_name = {u.path.rsplit("/", 1)[-1]: u for u in read_corpus("emodb", shared_data / "emodb")}
    # silb/03b03Nb.silb: ... 'hau' 1.71 s, 'se' 1.84 s, 'ge' 1.92 s, 'fahren' 2.03 s: the 2.0 s copy ends in "gefahren"
    assert by_name["03b03Nb.wav"].transcript == "An den Wochenenden bin ich jetzt immer nach Hause"
    assert by_name["13a01Wb.wav"].transcript is None  # its silb file is empty: no target
    assert sum(u.transcript is not None for u in by_name.values()) == 534


def test_manifest_text_column(tmp_path):
    from kerasser.data.corpora import read_manifest

    (tmp_path / "m.csv").write_text("path,text,arousal\na.wav,Hello there,high\nb.wav,,low\n")
    first, second = read_manifest(tmp_path / "m.csv")
    assert first.transcript == "Hello there" and second.transcript is None
