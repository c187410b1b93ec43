"""Labelling with a speaker-normalising model: each file's reference from its speaker's files (by
folder or by a table), and the errors of speaker tables and of references given to other models.

Uses the small fake models of tests/fakes.py, as tests/test_labeling.py does."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from fakes import FakeModel, FakeSpeakerModel, ramp_file, sine  # tests/fakes.py

from kerasser.data.audio import load
from kerasser.serve.labeling import Labeler
from kerasser.serve.labeling_files import Source, find_audio, folder_speaker, label_files, speaker_table
from kerasser.serve.writers import make_writer


def test_speakers_by_folder_and_table(tmp_path):
    """Each file is labelled with its speaker's reference: the sum of the statistics of all its
    speaker's files (a silent or broken file left out) over the sum of their frames."""
    waves = {"s1/a.wav": sine(1.0, amplitude=0.3) + 0.1, "s1/b.wav": sine(0.5, amplitude=0.3) - 0.2,
             "s2/c.wav": sine(0.8, amplitude=0.2) + 0.05, "s2/silent.wav": np.zeros(8000, np.float32)}
    for name, wave in waves.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        sf.write(tmp_path / name, wave, 16000, subtype="FLOAT")
    (tmp_path / "s2" / "broken.wav").write_bytes(b"RIFF0000WAVE")
    sources = find_audio([tmp_path])

    def expected(names):
        loaded = [load(str(tmp_path / n)) for n in names]
        return sum(float(w.sum()) for w in loaded) / sum(len(w) for w in loaded)

    model = FakeSpeakerModel()
    out = io.StringIO()
    summary = label_files(Labeler(model), sources, make_writer("csv", out, ["path", "error"]), speaker_of=folder_speaker)
    assert summary.failed == 2  # the silent and the broken file: error rows, the others labelled
    s1, s2 = expected(["s1/a.wav", "s1/b.wav"]), expected(["s2/c.wav"])
    np.testing.assert_allclose([r[0] for r in model.references], [s1, s1, s2], rtol=1e-5)

    table = tmp_path / "speakers.csv"  # a table: a and c one speaker, b not named (its own)
    table.write_text(f"path,speaker\n{tmp_path / 's1/a.wav'},x\n{tmp_path / 's2' / '..' / 's2/c.wav'},x\n")
    model = FakeSpeakerModel()
    label_files(Labeler(model), sources, make_writer("csv", io.StringIO(), ["path"]), speaker_of=speaker_table(table))
    ac, b = expected(["s1/a.wav", "s2/c.wav"]), expected(["s1/b.wav"])
    np.testing.assert_allclose([r[0] for r in model.references], [ac, b, ac], rtol=1e-5)

    model = FakeSpeakerModel()  # no speakers: each file its own
    label_files(Labeler(model), sources, make_writer("csv", io.StringIO(), ["path"]))
    np.testing.assert_allclose([r[0] for r in model.references],
                               [expected([n]) for n in ("s1/a.wav", "s1/b.wav", "s2/c.wav")], rtol=1e-5)


def test_speaker_table_errors(tmp_path):
    with pytest.raises(ValueError, match="cannot read the speaker table"):
        speaker_table(tmp_path / "missing.csv")
    (tmp_path / "t.csv").write_text("path,who\na.wav,x\n")
    with pytest.raises(ValueError, match="no speaker column"):
        speaker_table(tmp_path / "t.csv")
    with pytest.raises(ValueError, match="takes no speakers"):
        label_files(Labeler(FakeModel()), [Source(str(tmp_path / "a.wav"))], make_writer("csv", io.StringIO(), ["path"]),
                    speaker_of=folder_speaker)
    ramp_file(tmp_path / "a.wav", 1.0)
    with pytest.raises(ValueError, match="takes no speaker reference"):
        Labeler(FakeModel()).predict(str(tmp_path / "a.wav"), reference=np.zeros(2, np.float32))
    assert folder_speaker("data/spk1/a.wav") == "data/spk1" and folder_speaker("a.wav") == ""
