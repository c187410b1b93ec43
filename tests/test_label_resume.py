"""In-process checks of what tests/test_output_safety.py tries with real processes: the Labeler's
output checks, and ``kerasser.serve.label_resume.read_previous`` on its own files and foreign ones."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fakes import FakeModel, FakeSpeakerModel, sine  # tests/fakes.py

from kerasser.errors import DataError, PredictionError
from kerasser.serve.label_resume import read_previous
from kerasser.serve.labeling import Labeler
from kerasser.serve.labeling_files import label_source
from kerasser.serve.writers import columns, make_writer

# --- the Labeler refuses outputs no label may be made from ------------------------------------


class Gives(FakeModel):
    """A FakeModel whose ``output`` is replaced by ``value`` (the others stay as they are)."""

    def __init__(self, output, value, **kwargs):
        super().__init__(**kwargs)
        self.output, self.value = output, value

    def predict(self, waveform):
        out = super().predict(waveform)
        out[self.output] = np.asarray(self.value, np.float32)
        return out


@pytest.mark.parametrize(
    "output, value, reason",
    [
        ("arousal", [np.nan, 0.5, 0.5], "the model gave non-finite arousal probabilities"),
        ("valence", [0.2, np.inf, 0.1], "the model gave non-finite valence probabilities"),
        ("arousal", [1.7, -0.5, -0.2], "the model gave arousal probabilities outside [0, 1]"),
        ("arousal_attention", [0.5, np.nan, 0.5], "the model gave non-finite arousal attention"),
    ],
)
def test_non_finite_or_out_of_range_outputs_are_refused(output, value, reason):
    labeler = Labeler(Gives(output, value, attention=True), attention=True)
    with pytest.raises(PredictionError) as info:
        labeler.predict_waveform(sine(1.0))
    assert info.value.reason == reason


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the fake model overflows on such audio too
def test_the_reason_names_a_peak_far_past_full_scale(tmp_path):
    labeler = Labeler(Gives("arousal", [np.nan] * 3))
    with pytest.raises(PredictionError, match=r"non-finite arousal probabilities \(the audio peaks at 3e\+04, "):
        labeler.predict_waveform(sine(1.0, amplitude=3e4))
    [row] = label_source(labeler, str(_wav(tmp_path, sine(1.0))))  # a row with the reason, no label
    assert row["error"] == "the model gave non-finite arousal probabilities" and "arousal" not in row


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NumPy warns of the overflow
def test_non_finite_speaker_statistics_are_refused():
    labeler = Labeler(FakeSpeakerModel())
    assert np.isfinite(labeler.statistics(sine(1.0))[0]).all()
    huge = (sine(1.0) * np.float32(3e38)).astype(np.float32)  # the sum overflows float32
    with pytest.raises(PredictionError, match="non-finite speaker statistics"):
        labeler.statistics(np.concatenate([huge, huge]))


def _wav(tmp_path, x):
    import soundfile as sf

    path = tmp_path / "a.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    return path


# --- read_previous: its own files, and nothing else ---------------------------------------------

COLS = columns([("arousal", ("low", "high"))])


def written(fmt, rows, **kwargs) -> bytes:
    out = io.StringIO()
    writer = make_writer(fmt, out, COLS, **kwargs)
    for row in rows:
        writer.write(row)
    return out.getvalue().encode()


ROWS = [
    {"path": "=a.wav", "duration": 1.0, "start": 0.0, "end": 1.0, "arousal": "low", "arousal_low": 0.9,
     "arousal_high": 0.1, "error": ""},
    {"path": "b\rc\nd.wav", "duration": 2.0, "start": 0.0, "end": 2.0, "arousal": "high", "arousal_low": 0.2,
     "arousal_high": 0.8, "error": ""},
    {"path": "'e.wav", "error": "not a readable audio file"},
]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_own_output_read_back_with_every_name_as_it_was(tmp_path, fmt):
    path = tmp_path / f"out.{fmt}"
    path.write_bytes(written(fmt, ROWS))
    prev = read_previous(path)
    assert prev.format == fmt and prev.columns == COLS and not prev.rows_cut_off
    assert sorted(prev.files) == sorted(r["path"] for r in ROWS)
    assert all(p.complete for p in prev.files.values()) and prev.files["'e.wav"].error
    assert prev.needs_header(fmt, COLS) is False
    with pytest.raises(DataError, match="its columns are not this model's"):
        prev.needs_header(fmt, COLS[:-2] + ["arousal_mid", "error"])


def test_unguarded_output_is_read_without_unguarding(tmp_path):
    path = tmp_path / "out.csv"
    path.write_bytes(written("csv", ROWS, csv_guard=False))
    assert "=a.wav" in read_previous(path, csv_guard=False).files


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_only_a_cut_off_record_of_its_own_is_dropped(tmp_path, fmt):
    """Cut anywhere inside the second row (whose quoted CSV name holds a CR and a newline)."""
    data = written(fmt, ROWS)
    path = tmp_path / f"out.{fmt}"
    second_starts, second_ends = len(written(fmt, ROWS[:1])), len(written(fmt, ROWS[:2]))
    for cut in range(second_starts + 1, second_ends):
        path.write_bytes(data[:cut])
        prev = read_previous(path)
        assert prev.rows_cut_off and prev.complete_bytes == second_starts, cut
        assert list(prev.files) == ["=a.wav"]
    path.write_bytes(data[:second_ends])
    assert not read_previous(path).rows_cut_off


@pytest.mark.parametrize(
    "content",
    [
        b"path,duration,start,end,error\na.wav,1,0,1,\nb.wav,1,0,1,\"x\"y\n",  # the last complete line malformed
        b"path,duration,start,end,error\na.wav,1,0,1,\nb.wav,1\n",  # a record of another width
        b"path,duration,start,end,arousal\na.wav,1,0,1,low\n",  # no error column
        b"path,speaker\na.w",
        b"hello",
        b'{"path": "a.wav", "duration": 1, "start": 0, "end": 1, "error": ""}\n{"path": "b.wav", "error": ""}\n',
        b'{"path": "a.wav", "duration": 1, "start": 0, "end": 1, "error": ""}\nnot json\n',
        b'{"path": "a.wav", "duration": 1, "start": 0, "end": 1, "error": ""}\n[1, 2',
        b'{"name": "x"}\n',
        b'{"name": "x',
    ],
)
def test_foreign_files_are_refused(tmp_path, content):
    path = tmp_path / "out"
    path.write_bytes(content)
    with pytest.raises(DataError, match="not a kerasser label output"):
        read_previous(path)


def test_a_cut_off_header_alone_is_nothing_yet(tmp_path):
    for content in (b"path,dur", b'{"path": "a.w', b'{"pa'):
        path = tmp_path / "out"
        path.write_bytes(content)
        prev = read_previous(path)
        assert prev.format is None and prev.rows_cut_off and prev.complete_bytes == 0 and not prev.files
