"""Listener agreement as a sample weight: EmoDB's erkennung.txt read per file, and the dataset
multiplying every task's weight by it."""

from __future__ import annotations

import numpy as np
import pytest

from kerasser.data.corpora.emodb import read_agreement
from kerasser.data.corpora.utterance import Utterance
from kerasser.data.examples import ExampleSettings, examples


def test_read_agreement(tmp_path):
    text = "Nr.\tSatz\terkannt\tnatuerlich\n1  \t03a01Ab.wav\t65,00     \t35,00     \n2\t03a01Fa.wav\t90,00\t75,00\nbroken\n"
    (tmp_path / "erkennung.txt").write_bytes(text.encode("latin-1"))
    assert read_agreement(tmp_path / "erkennung.txt") == {"03a01Ab.wav": 0.65, "03a01Fa.wav": 0.90}
    assert read_agreement(tmp_path / "missing.txt") == {}


def test_emodb_utterances_carry_their_agreement(shared_data):
    from kerasser.data.corpora import read_corpus

    by_name = {u.path.rsplit("/", 1)[-1]: u for u in read_corpus("emodb", shared_data / "emodb")}
    assert by_name["03a01Fa.wav"].agreement == pytest.approx(0.90)  # erkennung.txt line 3
    assert all(0.8 <= u.agreement <= 1.0 for u in by_name.values())  # EmoDB kept >= 80 % recognition


def test_weights_are_multiplied_by_agreement(tmp_path):
    import soundfile as sf

    sf.write(tmp_path / "a.wav", np.full(1600, 0.1, np.float32), 16000)
    known = Utterance(str(tmp_path / "a.wav"), "s", "train", {"arousal": 2}, agreement=0.85)
    unknown = Utterance(str(tmp_path / "a.wav"), "t", "train", {"arousal": 0})
    (_, _, w_known), (_, _, w_unknown) = examples([known, unknown], ExampleSettings(("arousal",), by_agreement=True))
    assert w_known["arousal"] == pytest.approx(0.85) and w_unknown["arousal"] == 1.0
    (_, _, plain), _ = examples([known, unknown], ExampleSettings(("arousal",)))
    assert plain["arousal"] == 1.0
