"""kerasser.data.audio: formats, rates, channels, and one-line errors for every bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf
from fakes import sine  # tests/fakes.py

from kerasser.data import audio
from kerasser.data.audio import SAMPLE_RATE, AudioError, from_array, load


def peak_hz(x: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)])


def assert_audio_error(excinfo: pytest.ExceptionInfo, path: object, reason: str) -> None:
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert reason in message
    assert excinfo.value.path == str(path)


def test_wav_int16_stereo_22050_is_mono_16k_same_pitch(tmp_path):
    left = sine(1.0, 22050, freq=440, amplitude=0.5)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)  # mean down-mix halves the amplitude
    path = tmp_path / "stereo.wav"
    sf.write(path, stereo, 22050, subtype="PCM_16")
    x = load(path)
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - SAMPLE_RATE) <= 1
    assert peak_hz(x) == pytest.approx(440, abs=2)
    mid = x[1000:-1000]  # away from resampler edges
    assert np.sqrt(np.mean(mid**2)) == pytest.approx(0.25 / np.sqrt(2), rel=0.02)


def test_sample_rate_argument(tmp_path):
    path = tmp_path / "a.wav"
    sf.write(path, sine(1.0, 16000, freq=300, amplitude=0.5), 16000, subtype="PCM_16")
    x = load(path, sample_rate=8000)
    assert abs(len(x) - 8000) <= 1
    assert peak_hz(x, 8000) == pytest.approx(300, abs=2)


def test_native_16k_mono_is_unchanged(tmp_path):
    y = sine(1.0, 16000, freq=1000, amplitude=0.5)
    path = tmp_path / "f.wav"
    sf.write(path, y, 16000, subtype="FLOAT")
    np.testing.assert_array_equal(load(path), y)


@pytest.mark.parametrize(
    "name, fmt, subtype, rate",
    [
        ("a.flac", "FLAC", "PCM_24", 44100),
        ("a.ogg", "OGG", "VORBIS", 22050),
        ("a.mp3", "MP3", "MPEG_LAYER_III", 44100),
        ("a.wav", "WAV", "PCM_32", 48000),
        ("a.wav", "WAV", "DOUBLE", 8000),
    ],
)
def test_formats(tmp_path, name, fmt, subtype, rate):
    if fmt not in sf.available_formats():
        pytest.skip(f"this libsndfile cannot write {fmt}")
    path = tmp_path / name
    sf.write(path, sine(1.0, rate, freq=600, amplitude=0.5), rate, format=fmt, subtype=subtype)
    x = load(path)
    assert x.dtype == np.float32
    assert abs(len(x) - SAMPLE_RATE) <= (1 if fmt in ("WAV", "FLAC") else 0.05 * SAMPLE_RATE)
    assert peak_hz(x) == pytest.approx(600, abs=2)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.wav"
    with pytest.raises(AudioError) as e:
        load(path)
    assert_audio_error(e, path, "no such file")


def test_directory(tmp_path):
    with pytest.raises(AudioError) as e:
        load(tmp_path)
    assert_audio_error(e, tmp_path, "directory")


def test_text_file_named_wav(tmp_path):
    path = tmp_path / "text.wav"
    path.write_text("hello, not audio\n")
    with pytest.raises(AudioError) as e:
        load(path)
    assert_audio_error(e, path, "not a readable audio file (Format not recognised)")


def test_truncated_wav(tmp_path):
    path = tmp_path / "cut.wav"
    sf.write(path, sine(1.0, 16000, freq=440, amplitude=0.5), 16000, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(AudioError) as e:
        load(path)
    assert_audio_error(e, path, "not a readable audio file")


def test_empty_wav(tmp_path):
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError) as e:
        load(path)
    assert_audio_error(e, path, "empty audio")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_float_wav(tmp_path, bad):
    y = sine(1.0, 16000, freq=440, amplitude=0.5)
    y[100] = bad
    path = tmp_path / "nan.wav"
    sf.write(path, y, 16000, subtype="FLOAT")
    with pytest.raises(AudioError) as e:
        load(path)
    assert_audio_error(e, path, "non-finite samples")


def test_error_is_one_line_even_with_newlines():
    err = AudioError("a\nb.wav", "first\nsecond")
    assert str(err) == "a\\nb.wav: first second"
    assert err.path == "a\nb.wav" and err.reason == "first second"


def test_error_pickles():
    import pickle

    err = pickle.loads(pickle.dumps(AudioError("x.wav", "empty audio")))
    assert isinstance(err, AudioError) and str(err) == "x.wav: empty audio"


def test_no_library_exception_escapes(tmp_path, monkeypatch):
    path = tmp_path / "a.wav"
    sf.write(path, sine(1.0, 16000, freq=440, amplitude=0.5), 16000)

    def broken(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(audio.sf, "read", broken)
    with pytest.raises(AudioError) as e:
        load(path)
    assert_audio_error(e, path, "cannot read (Input/output error)")


def test_from_array_mono_and_channels():
    y = sine(1.0, 22050, freq=440, amplitude=0.5)
    x = from_array(np.stack([y, y, y], axis=1), 22050)
    assert abs(len(x) - SAMPLE_RATE) <= 1
    assert peak_hz(x) == pytest.approx(440, abs=2)
    np.testing.assert_array_equal(from_array(sine(1.0, 16000, freq=440, amplitude=0.5), 16000), sine(1.0, 16000, freq=440, amplitude=0.5))
    np.testing.assert_allclose(from_array(sine(1.0, 16000, freq=440, amplitude=0.5).astype(np.float64), 16000), sine(1.0, 16000, freq=440, amplitude=0.5))


def test_from_array_int16_is_scaled():
    x = from_array(np.array([0, 16384, -32768], dtype=np.int16), 16000)
    np.testing.assert_allclose(x, [0.0, 0.5, -1.0])
    assert x.dtype == np.float32


@pytest.mark.parametrize(
    "samples, reason",
    [
        (np.zeros(0, dtype=np.float32), "empty audio"),
        (np.zeros((0, 2), dtype=np.float32), "empty audio"),
        (np.array([0.0, np.nan]), "non-finite samples"),
        (np.zeros((2, 2, 2)), "expected samples shaped [n] or [n, channels]"),
        (np.array(["a", "b"]), "expected integer or float samples"),
    ],
)
def test_from_array_errors(samples, reason):
    with pytest.raises(AudioError) as e:
        from_array(samples, 16000, name="mic")
    assert_audio_error(e, "mic", reason)


def test_file_names_that_are_not_utf8(tmp_path):
    """A Latin-1 name (as old archives have) reads like any other, whole and in windows."""
    from kerasser.data.windows import probe, read_windows

    name = os.fsdecode(bytes(tmp_path) + b"/caf\xe9.wav")  # surrogate-escaped in Python
    sf.write(os.fsencode(name), sine(1.0, 16000, freq=440, amplitude=0.5), 16000)
    assert load(name).shape == (16000,)
    assert probe(name).frames == 16000
    assert sum(len(w.waveform) for w in read_windows(name, [(0.0, 0.5), (0.5, 1.0)])) == 16000


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting_on_it(tmp_path):
    """Every reader opens the name without blocking and checks the descriptor libsndfile then
    reads: a FIFO (say, a file swapped for one after its folder was listed) is an error, never a
    read that waits for a writer forever."""
    import threading

    from kerasser.data.windows import probe, read_blocks, read_windows

    fifo = tmp_path / "x.wav"
    os.mkfifo(fifo)
    readers = {"load": lambda: load(fifo), "probe": lambda: probe(fifo),
               "read_windows": lambda: next(read_windows(fifo, [(0.0, 1.0)])), "read_blocks": lambda: next(read_blocks(fifo, 1.0))}
    for name, read in readers.items():
        errors = []

        def run(read=read, errors=errors):
            try:
                read()
            except AudioError as err:
                errors.append(str(err))

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        thread.join(timeout=20)
        assert not thread.is_alive(), f"{name} blocked on a FIFO"
        assert errors == [f"{fifo}: not a regular file (FIFO)"], name
