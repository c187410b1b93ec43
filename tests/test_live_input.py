"""``kerasser label -``: WAV or raw PCM on standard input, a row per speech segment as soon as it ends.

Stream parsing is checked against soundfile on WAVs it writes (and raw PCM); the live test feeds
the example clips (real speech) through a pipe at real-time pace to a ``kerasser label -``
process and measures the delay from the end of each clip's speech to its row on stdout.
"""

from __future__ import annotations

import glob
import io
import json
import os
import statistics
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import soundfile as sf
from benchmark_scripts import ROOT, load_benchmark  # tests/benchmark_scripts.py

from kerasser.data import audio
from kerasser.errors import AudioError
from kerasser.serve.live import RawFormat, read_stream

RATE = 16000


RAW = RawFormat()  # frozen: one default for every stream


def stream_of(data: bytes, tmp_path, raw=RAW):
    path = tmp_path / "stream.bin"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        rate, blocks = read_stream(fd, raw)
        samples = np.concatenate(list(blocks))
    finally:
        os.close(fd)
    return rate, samples


def wav_bytes(samples, rate, subtype):
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


@pytest.mark.parametrize("subtype, channels, rate", [("PCM_16", 1, 16000), ("PCM_24", 2, 44100),
                                                     ("PCM_32", 1, 8000), ("FLOAT", 2, 22050), ("PCM_U8", 1, 16000)])
def test_wav_streams_read_as_soundfile_reads_them(tmp_path, subtype, channels, rate):
    rng = np.random.default_rng(0)
    data = wav_bytes((0.3 * rng.standard_normal((rate // 2, channels))).clip(-1, 1), rate, subtype)
    expected, _ = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    got_rate, got = stream_of(data, tmp_path)
    assert got_rate == rate and got.shape == expected.shape
    assert np.allclose(got, expected, atol=1e-6)
    # a pipe's WAV: data size unknown (0xFFFFFFFF, as ffmpeg writes it to a pipe); read to the end
    at = data.index(b"data") + 4
    _, piped = stream_of(data[:at] + struct.pack("<I", 0xFFFFFFFF) + data[at + 4:], tmp_path)
    assert np.allclose(piped, expected, atol=1e-6)


def test_raw_pcm_by_its_options(tmp_path):
    values = np.array([0, 16384, -32768, 32767], "<i2")
    rate, got = stream_of(values.tobytes(), tmp_path)
    assert rate == 16000 and np.allclose(got[:, 0], values / 32768.0)
    stereo = np.array([[0.5, -0.25], [1.0, 0.0]], "<f4")
    rate, got = stream_of(stereo.tobytes(), tmp_path, RawFormat(48000, 2, "f32le"))
    assert rate == 48000 and np.array_equal(got, stereo)


def test_unreadable_streams_say_why(tmp_path):
    with pytest.raises(AudioError, match="empty stream"):
        stream_of(b"", tmp_path)
    adpcm = b"RIFF\x00\x00\x00\x00WAVEfmt " + struct.pack("<IHHIIHH", 16, 2, 1, 16000, 8000, 2, 4)
    with pytest.raises(AudioError, match="WAV format 2 with 4-bit samples"):
        stream_of(adpcm + b"data\x00\x00\x00\x00" + b"\x00" * 100, tmp_path)
    with pytest.raises(AudioError, match="without a data chunk"):
        stream_of(b"RIFF\x00\x00\x00\x00WAVE", tmp_path)


def label_stdin(*args, data: bytes = b""):
    return subprocess.run([sys.executable, "-m", "kerasser_cli", "label", "-", *args], input=data,
                          capture_output=True, cwd=ROOT, timeout=120)


def test_bad_stdin_is_one_line_and_exit_1():
    done = label_stdin(data=b"")
    assert done.returncode == 1
    assert done.stderr.decode().strip() == "<stdin>: no audio on standard input (empty stream)"
    assert "Traceback" not in done.stderr.decode()
    both = subprocess.run([sys.executable, "-m", "kerasser_cli", "label", "-", "x.wav"], capture_output=True,
                          timeout=60)
    assert both.returncode == 2 and b"cannot be used with other paths" in both.stderr


@pytest.mark.parametrize("option", [["--segment", "5"], ["--segment", "none"], ["--segment-over", "30"]])
def test_segment_options_are_refused_on_a_stream(option):
    """A stream is cut at its speech pauses: a --segment setting would be ignored, so it is refused."""
    from click.testing import CliRunner
    from kerasser_cli.main import cli

    done = CliRunner().invoke(cli, ["label", "-", *option], input=b"")
    assert done.exit_code == 2 and f"cannot be used with {option[0]}" in done.output


@pytest.fixture(scope="module")
def speech():
    """Three example clips trimmed to their speech, 1.5 s apart, as 16-bit PCM at 16 kHz: (bytes,
    true speech ends in seconds)."""
    bounds = load_benchmark("vad_segments").speech_bounds
    parts, ends, at = [np.zeros(RATE, np.float32)], [], RATE
    for path in sorted(glob.glob(str(ROOT / "examples" / "*.wav")))[:3]:
        wave = audio.load(path, RATE)
        first, last = bounds(wave)
        parts += [wave[first:last], np.zeros(3 * RATE // 2, np.float32)]
        at += last - first
        ends.append(at / RATE)
        at += 3 * RATE // 2
    pcm = (np.concatenate(parts) * 32767).round().astype("<i2")
    return pcm.tobytes(), ends


@pytest.mark.slow  # measured over 5 s on 2 busy cores (--durations)
def test_rows_come_while_the_stream_runs(speech):
    """Real-time feeding through a pipe: each segment's row comes before the stream ends, within a
    second of its speech's end (the delay's median is printed: run with -s)."""
    data, ends = speech
    proc = subprocess.Popen([sys.executable, "-m", "kerasser_cli", "label", "-", "--format", "jsonl"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    arrivals = []

    def read():
        for line in proc.stdout:
            arrivals.append((time.monotonic(), json.loads(line)))

    reader = threading.Thread(target=read)
    reader.start()
    chunk = RATE // 20 * 2  # 50 ms of 16-bit samples
    began = time.monotonic()
    for i in range(0, len(data), chunk):  # each chunk written when its last sample has "happened"
        time.sleep(max(0.0, began + (i + chunk) / 2 / RATE - time.monotonic()))
        proc.stdin.write(data[i:i + chunk])
        proc.stdin.flush()
    stream_end = time.monotonic()
    proc.stdin.close()
    reader.join(timeout=60)
    assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()
    rows = [row for _, row in arrivals]
    assert len(rows) == len(ends) and all(r["error"] == "" and r["path"] == "<stdin>" for r in rows)
    delays = []
    for (arrived, row), end in zip(arrivals, ends):
        assert abs(row["end"] - end) < 0.15
        assert arrived < stream_end  # written while the stream still ran
        heard = began + np.ceil(end * 20) / 20  # the 50 ms chunk holding the speech's end was written
        delays.append(arrived - heard)
    print(f"\nend of speech to row: {', '.join(f'{d:.2f}' for d in delays)} s (median {statistics.median(delays):.2f})")
    assert statistics.median(delays) < 1.0
