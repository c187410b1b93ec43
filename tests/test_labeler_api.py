"""The Python API in the ecosystem's shape (issue 41): ``kerasser.Labeler(model=NAME)`` with
audinterface's ``process_*`` calls giving the CLI's rows as a DataFrame, SpeechBrain's
``classify_*``, and ``kerasser.load_model`` on a bare waveform (and in a base install)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
sf = pytest.importorskip("soundfile")

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
CLIP = EXAMPLES / "16a01Wb.wav"

pytestmark = pytest.mark.skipif(not (REPO / "exported" / "emodb-avde" / "metadata.json").is_file(),
                                reason="no shipped model in this checkout")


def cli_label(*args) -> pd.DataFrame:
    """``kerasser label ARGS`` in a real process, its CSV read back by pandas."""
    env = {k: v for k, v in os.environ.items() if k not in ("KERASSER_MODEL",)}
    done = subprocess.run([sys.executable, "-m", "kerasser_cli", "label", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    return pd.read_csv(io.StringIO(done.stdout), keep_default_na=False, na_values=[""])


def as_csv_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The API's DataFrame in the CSV's shape: path, duration, start, end (seconds), the rest."""
    flat = frame.reset_index().rename(columns={"file": "path"})
    for column in ("start", "end"):
        flat[column] = flat[column].dt.total_seconds().round(3)  # the CSV's milliseconds
    return flat[["path", "duration", "start", "end", *frame.columns[1:]]]


def assert_same_rows(api: pd.DataFrame, cli: pd.DataFrame) -> None:
    rows = as_csv_rows(api)
    assert list(rows.columns) == list(cli.columns)
    for column in cli.columns:
        ours, theirs = rows[column].to_numpy(), cli[column].to_numpy()
        if column == "error":
            assert [str(x) if x == x else "" for x in ours] == [str(x) if x == x else "" for x in theirs]
        elif theirs.dtype.kind == "f":
            np.testing.assert_allclose(ours.astype(float), theirs, atol=0, rtol=0, equal_nan=True, err_msg=column)
        else:
            assert [None if x != x else x for x in ours] == [None if x != x else x for x in theirs], column


@pytest.fixture(scope="module")
def labeler():
    from kerasser import Labeler

    return Labeler(model="emodb-avde")


def test_process_folder_gives_exactly_the_cli_rows(labeler, tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    for clip in sorted(EXAMPLES.glob("*.wav"))[:3]:
        (folder / clip.name).write_bytes(clip.read_bytes())
    (folder / "broken.wav").write_text("not audio")  # an error row, as the CLI writes it
    long, rate = sf.read(CLIP)
    sf.write(folder / "long.wav", np.tile(long, 33), rate)  # 66 s: a row per speech segment, as the CLI's default
    frame = labeler.process_folder(folder)
    assert frame.index.names == ["file", "start", "end"]
    assert isinstance(frame.index.get_level_values("start")[0], pd.Timedelta)
    assert (frame["error"] != "").sum() == 1
    assert (frame.index.get_level_values("file") == str(folder / "long.wav")).sum() > 7  # 2 s pieces of speech
    assert_same_rows(frame, cli_label(folder))
    windows = labeler.process_folder(folder, segment=10)  # --segment 10: today's fixed windows
    assert len(windows) == 3 + 1 + 7
    assert_same_rows(windows, cli_label(folder, "--segment", "10"))
    assert_same_rows(labeler.process_files([folder / "broken.wav", CLIP]), cli_label(folder / "broken.wav", CLIP))


def test_process_signal_at_any_rate_is_the_file_it_would_be(labeler, tmp_path):
    samples, rate = sf.read(CLIP)
    for target in (8000, 44100):
        import soxr

        other = soxr.resample(samples, rate, target).astype(np.float32)
        path = tmp_path / f"at_{target}.wav"
        sf.write(path, other, target, subtype="FLOAT")
        signal = labeler.process_signal(other, target, file=str(path))
        assert_same_rows(signal, cli_label(path))
        assert labeler.process_file(path).equals(signal)
    stereo = np.stack([samples, samples], axis=1)
    assert np.allclose(labeler.process_signal(stereo, rate).to_numpy()[:, 2:4].astype(float),
                       labeler.process_signal(samples, rate).to_numpy()[:, 2:4].astype(float), atol=1e-5)


def test_parts_of_signals_and_files_keep_their_times(labeler):
    samples, rate = sf.read(CLIP)
    part = labeler.process_signal(samples, rate, file="clip", start=0.5, end=pd.Timedelta(seconds=1.5))
    assert part.index.tolist() == [("clip", pd.Timedelta(seconds=0.5), pd.Timedelta(seconds=1.5))]
    assert part["duration"].tolist() == [2.0]
    alone = labeler.process_signal(samples[rate // 2: rate * 3 // 2], rate, file="clip")
    assert part.iloc[0, 1:].tolist() == alone.iloc[0, 1:].tolist()  # the same samples labelled
    from_file = labeler.process_file(CLIP, start=0.5, end=1.5)
    assert from_file.index[0][1:] == part.index[0][1:] and from_file.iloc[0, 1:].tolist() == part.iloc[0, 1:].tolist()
    unnamed = labeler.process_signal((samples * 32767).astype(np.int16), rate)
    assert unnamed.index[0][0] == "" and unnamed["emotion"].iloc[0] == "anger"
    silent = labeler.process_signal(np.zeros(rate), rate)
    assert silent["error"].iloc[0].startswith("silent") and np.isnan(silent["arousal_high"].iloc[0])


def test_classify_calls_and_the_old_calls_agree(labeler):
    from kerasser import Labeler

    samples, rate = sf.read(CLIP)
    single = labeler.predict(samples, sample_rate=rate)
    assert labeler.classify_file(CLIP) == labeler.predict(str(CLIP))
    padded = np.zeros((2, len(samples)), np.float32)
    padded[0], padded[1, : len(samples) // 2] = samples, samples[: len(samples) // 2]
    batch = labeler.classify_batch(padded, rate, wav_lens=[1.0, 0.5])
    assert batch[0] == labeler.predict(padded[0], sample_rate=rate)
    assert batch[1] == labeler.predict(samples[: len(samples) // 2].astype(np.float32), sample_rate=rate)
    assert batch[0]["emotion"]["label"] == single["emotion"]["label"] == "anger"
    loaded = Labeler.load("emodb-avde")  # the calls from before keep working, names included
    assert Labeler(loaded.model).predict(str(CLIP)) == loaded.predict(str(CLIP)) == labeler.predict(str(CLIP))


def test_an_empty_folder_gives_an_empty_frame(labeler, tmp_path):
    frame = labeler.process_folder(tmp_path)
    assert frame.empty and frame.index.names == ["file", "start", "end"] and "emotion_anger" in frame.columns


def run_python(code: str, *args, block=()) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter (``block``: modules made unimportable, as in a base install)."""
    prelude = "".join(f"import sys; sys.modules[{name!r}] = None\n" for name in block)
    env = {k: v for k, v in os.environ.items() if k not in ("KERASSER_MODEL", "TF_CPP_MIN_LOG_LEVEL")}
    return subprocess.run([sys.executable, "-c", prelude + code, *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=300)


def test_the_api_imports_no_tensorflow_and_keeps_stderr_quiet():
    done = run_python(
        "import sys, kerasser\n"
        "frame = kerasser.Labeler(model='emodb-avde-ensemble').process_file(sys.argv[1])\n"
        "print(len(frame), frame['emotion'].iloc[0], 'tensorflow' in sys.modules)\n", CLIP)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "anger", "False"]
    assert done.stderr == ""  # no "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."


def test_a_base_install_names_the_extra():
    done = run_python(
        "import kerasser\n"
        "from kerasser.extras import MissingExtraError\n"
        "for call in (lambda: kerasser.load_model('emodb-avde'), lambda: kerasser.Labeler(backend='keras'),\n"
        "             lambda: kerasser.train):\n"
        "    try:\n"
        "        call()\n"
        "    except MissingExtraError as error:\n"
        "        assert isinstance(error, ImportError) and not isinstance(error, ModuleNotFoundError)\n"
        "        print(error)\n", block=("tensorflow", "keras"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3 and all("pip install 'kerasser[train]'" in line for line in lines)
    assert lines[0].startswith("kerasser.load_model needs ") and lines[1].startswith("the keras backend needs keras")


@pytest.mark.slow
def test_load_model_takes_a_bare_waveform_quietly(tmp_path):
    done = run_python(
        "import sys, numpy as np, soundfile as sf, kerasser\n"
        "model = kerasser.load_model('emodb-avde')\n"
        "w = sf.read(sys.argv[1], dtype='float32')[0]\n"
        "full = model.predict({'waveform': w[None], 'length': np.array([len(w)], 'int32')}, verbose=0)\n"
        "for out in (model.predict(w[None], verbose=0), model.predict(w, verbose=0), model(w[None])):\n"
        "    assert all(np.allclose(np.asarray(out[k]), full[k], atol=1e-6) for k in full), out\n"
        "model.save(sys.argv[2])\n"
        "again = kerasser.load_model(sys.argv[2])\n"
        "assert np.allclose(again.predict(w, verbose=0)['emotion'], full['emotion'], atol=1e-6)\n"
        "print(type(model).__name__, int(np.argmax(full['emotion'][0])))\n", CLIP, tmp_path / "copy.keras")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["Functional", "0"]  # anger
    assert done.stderr == ""  # no TensorFlow, absl or CUDA start-up lines
