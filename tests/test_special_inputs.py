"""Inputs that are not regular files, and inputs named twice, through real ``kerasser label``
processes (with a timeout: reading a FIFO blocks forever) and through ``find_audio``.

A folder walk skips a FIFO, socket or device named like audio with one line on stderr; one named on
the command line is an error row. ``d`` and ``./d`` (or a link to a file) label each file once."""

from __future__ import annotations

import csv
import io
import os
import socket
import subprocess
import sys

import pytest
import soundfile as sf
from fakes import sine  # tests/fakes.py

from kerasser.data.input_files import find_audio, skipped_line, special_kind

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(REPO, "exported", "emodb-avde")
needs_model = pytest.mark.skipif(not os.path.isdir(MODEL), reason="no shipped model in this checkout")
TIMEOUT = 120  # seconds; a FIFO that is opened for reading would block far past it


@pytest.fixture
def specials(tmp_path, monkeypatch):
    """d/{a.wav, b.flac, x.wav (a FIFO), s.wav (a UNIX socket)}, with the current folder at tmp_path."""
    d = tmp_path / "d"
    d.mkdir()
    sf.write(d / "a.wav", sine(0.5), 16000)
    sf.write(d / "b.flac", sine(0.4), 16000)
    os.mkfifo(d / "x.wav")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(d / "s.wav"))
    monkeypatch.chdir(tmp_path)
    yield d
    server.close()


def label(*args, cwd=None):
    """``kerasser label --model <shipped> ARGS`` in a process of its own; (exit code, rows, stderr lines)."""
    done = subprocess.run([sys.executable, "-m", "kerasser_cli", "label", "--model", MODEL, *args],
                          capture_output=True, text=True, timeout=TIMEOUT, cwd=cwd)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, list(csv.DictReader(io.StringIO(done.stdout))), done.stderr.splitlines()


def test_special_kind(specials):
    assert special_kind(specials / "x.wav") == "FIFO"
    assert special_kind(specials / "s.wav") == "socket"
    assert special_kind("/dev/null") == "character device"
    assert special_kind(specials / "a.wav") is None and special_kind(specials) is None
    assert special_kind(specials / "missing.wav") is None  # the loader says what is wrong with it
    os.symlink("x.wav", specials / "link_to_fifo.wav")
    assert special_kind(specials / "link_to_fifo.wav") == "FIFO"  # links are followed


def test_walk_skips_special_files_and_says_so_once(specials):
    lines = []
    found = find_audio(["d"], on_skipped=lines.append)
    assert [s.path for s in found] == ["d/a.wav", "d/b.flac"]
    assert lines == ["skipped 2 files that are not regular files: d/s.wav (socket), d/x.wav (FIFO)"]
    lines.clear()
    find_audio(["d", "./d"], on_skipped=lines.append)  # the same files, reported once
    assert lines == ["skipped 2 files that are not regular files: d/s.wav (socket), d/x.wav (FIFO)"]
    lines.clear()
    find_audio(["d/a.wav"], on_skipped=lines.append)
    assert lines == []  # nothing skipped: not called


def test_skipped_line_names_a_few_and_counts_the_rest():
    one = skipped_line([("d/x.wav", "FIFO")])
    assert one == "skipped 1 file that is not a regular file: d/x.wav (FIFO)"
    many = skipped_line([(f"d/{i}.wav", "FIFO") for i in range(8)])
    assert many == ("skipped 8 files that are not regular files: d/0.wav (FIFO), d/1.wav (FIFO), d/2.wav (FIFO), "
                    "d/3.wav (FIFO), d/4.wav (FIFO) and 3 more")
    assert skipped_line([("d/new\nline.wav", "FIFO")]).endswith("d/new\\nline.wav (FIFO)")  # one line


def test_named_special_files_are_sources_with_an_error(specials):
    found = find_audio(["d/x.wav", "d/s.wav", "/dev/null", "d/a.wav"])
    assert [(s.path, s.error) for s in found] == [
        ("d/x.wav", "not a regular file (FIFO)"),
        ("d/s.wav", "not a regular file (socket)"),
        ("/dev/null", "not a regular file (character device)"),
        ("d/a.wav", None),
    ]


@needs_model
def test_label_process_skips_special_files_in_a_folder(specials):
    code, rows, err = label("d", cwd=specials.parent)
    assert code == 0
    assert [r["path"] for r in rows] == ["d/a.wav", "d/b.flac"]
    assert all(r["error"] == "" and r["arousal"] for r in rows)
    assert err == ["skipped 2 files that are not regular files: d/s.wav (socket), d/x.wav (FIFO)"]
    code, rows, err = label("d", "--quiet", cwd=specials.parent)
    assert (code, len(rows), err) == (0, 2, [])


@needs_model
def test_label_process_gives_named_special_files_an_error_row(specials):
    code, rows, err = label("d/x.wav", "d/s.wav", "/dev/null", "d/a.wav", cwd=specials.parent)
    assert code == 1
    assert [(r["path"], r["error"]) for r in rows] == [
        ("d/x.wav", "not a regular file (FIFO)"),
        ("d/s.wav", "not a regular file (socket)"),
        ("/dev/null", "not a regular file (character device)"),
        ("d/a.wav", ""),
    ]
    assert err == ["d/x.wav: not a regular file (FIFO)", "d/s.wav: not a regular file (socket)",
                   "/dev/null: not a regular file (character device)", "3 of 4 files could not be labelled"]


@needs_model
def test_label_process_labels_a_file_reached_twice_once(specials):
    os.symlink(specials / "a.wav", specials.parent / "link.wav")
    code, rows, err = label("d", "./d", "d/a.wav", "link.wav", "d/../d/b.flac", "--quiet", cwd=specials.parent)
    assert code == 0 and err == []
    assert [r["path"] for r in rows] == ["d/a.wav", "d/b.flac"]  # first seen, in order


def test_distinct_broken_links_stay_distinct(tmp_path):
    """Paths that cannot be resolved are compared as absolute paths: two broken links are two rows."""
    os.symlink("nowhere.wav", tmp_path / "one.wav")
    os.symlink("nowhere.wav", tmp_path / "two.wav")
    assert [os.path.basename(s.path) for s in find_audio([tmp_path])] == ["one.wav", "two.wav"]


def test_a_folder_without_audio_is_exit_1_and_writes_nothing(tmp_path):
    """As with --runner beam: nothing to label is a failure, said in one line, no header-only output."""
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "notes.txt").write_text("no audio name")
    result = subprocess.run([sys.executable, "-m", "kerasser_cli", "label", "texts"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == ["no audio file found in texts: nothing written"]
