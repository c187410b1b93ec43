"""``kerasser label --runner beam``: an Apache Beam pipeline (DirectRunner) over real EmoDB files gives
the rows of the single-machine ``label``, error rows included, in sharded files with the header."""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

pytest.importorskip("apache_beam")

from kerasser_cli.main import cli  # noqa: E402

from kerasser.serve.beam_labeling import shards  # noqa: E402

NAMES = ("03a01Fa", "03a01Nc", "08a01Ab", "15a01La", "16a01Wb", "13a02Wa")


@pytest.fixture(scope="module")
def folder(shared_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("beam_in")
    for name in NAMES:
        os.symlink(shared_data / "emodb" / "wav" / f"{name}.wav", folder / f"{name}.wav")
    (folder / "broken.wav").write_bytes(b"not audio")
    (folder / "notes.txt").write_text("not an audio name: never labelled")
    return folder


def shard_files(prefix, suffix):
    files = sorted(glob.glob(f"{prefix}-*-of-*{suffix}"))
    assert files, f"no {prefix}-*{suffix}"
    return files


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_beam_rows_equal_local_rows(folder, tmp_path, fmt):
    runner = CliRunner()
    local = runner.invoke(cli, ["label", str(folder), "--format", fmt])
    assert local.exit_code == 1  # the broken file
    prefix = str(tmp_path / "out" / "rows")
    beam = runner.invoke(cli, ["label", "--runner", "beam", str(folder), "--out", prefix, "--format", fmt,
                               "--beam-option", "direct_num_workers=2"])
    assert beam.exit_code == 1, beam.output
    assert "labelled 7 files (1 error rows)" in beam.stderr
    local_lines = local.stdout.splitlines()
    beam_lines = []
    for shard in shard_files(prefix, f".{fmt}"):
        lines = open(shard, encoding="utf-8").read().splitlines()
        if fmt == "csv":
            assert lines[0] == local_lines[0]  # every shard starts with label's header
            lines = lines[1:]
        beam_lines += lines
    expected = local_lines[1:] if fmt == "csv" else local_lines
    assert sorted(beam_lines) == sorted(expected)
    assert len(beam_lines) == len(NAMES) + 1
    if fmt == "jsonl":
        errors = [json.loads(line) for line in beam_lines if json.loads(line)["error"]]
        assert [os.path.basename(e["path"]) for e in errors] == ["broken.wav"]


def test_beam_option_errors(folder, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["label", "--runner", "beam", str(folder)])
    assert result.exit_code == 2 and "--runner beam needs --out PREFIX" in result.output
    result = runner.invoke(cli, ["label", "--runner", "beam", str(folder), "--out", str(tmp_path / "x"), "--attention"])
    assert result.exit_code == 2 and "--attention cannot be used with --runner beam" in result.output
    result = runner.invoke(cli, ["label", str(folder), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "go with --runner beam" in result.output
    result = runner.invoke(cli, ["label", "--runner", "beam", str(folder), "--out", str(tmp_path / "x"),
                                 "--model", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "no such model folder" in result.output


# --- hostile runs: real processes ----------------------------------------------------------------

HEADER_START = "path,duration,start,end,arousal,"


def beam_label(*args, cwd):
    """``kerasser label --runner beam ARGS`` in a process of its own; (exit code, stderr lines)."""
    done = subprocess.run([sys.executable, "-m", "kerasser_cli", "label", "--runner", "beam", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stderr.splitlines()


def shard_rows(prefix, suffix=".csv"):
    rows = []
    for shard in shards(prefix, suffix):
        lines = open(shard, encoding="utf-8").read().splitlines()
        assert lines[0].startswith(HEADER_START)
        rows += list(csv.DictReader(io.StringIO("\n".join(lines))))
    return rows


def test_unwritable_out_is_one_line_before_any_work(folder, tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    code, err = beam_label(str(folder / "03a01Fa.wav"), "--out", "a_file/rows", cwd=tmp_path)
    assert (code, err) == (2, ["Error: a_file/rows: cannot write the output there (Not a directory)"])
    assert os.listdir(tmp_path) == ["a_file"]


def test_read_only_out_is_one_line(folder, tmp_path):
    """A read-only folder; root writes into any, so as root a place no one may create files in (sysfs)."""
    if os.geteuid() == 0:
        out, place = "/sys/kerasser-test/rows", "/sys"
    else:
        (tmp_path / "ro").mkdir(mode=0o555)
        out, place = "ro/rows", str(tmp_path / "ro")
    before = os.listdir(place)
    code, err = beam_label(str(folder / "03a01Fa.wav"), "--out", out, cwd=tmp_path)
    assert code == 2 and len(err) == 1, err
    reasons = ("Permission denied", "Read-only file system", "Operation not permitted")
    assert err[0] in [f"Error: {out}: cannot write the output there ({reason})" for reason in reasons]
    assert os.listdir(place) == before


@pytest.mark.slow  # measured over 5 s on 2 busy cores (--durations)
def test_no_matching_input_is_exit_1(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "notes.txt").write_text("no audio name")
    code, err = beam_label("missing.wav", "nomatch*.flac", "--out", "out/rows", cwd=tmp_path)
    assert code == 1 and err == ["labelled 2 files (2 error rows) into 1 file(s) out/rows-*"]
    rows = shard_rows(str(tmp_path / "out" / "rows"))
    assert sorted((r["path"], r["error"]) for r in rows) == [("missing.wav", "no such file"),
                                                           ("nomatch*.flac", "no file matches")]
    code, err = beam_label("texts", "--out", "out2/rows", cwd=tmp_path)  # matches a file, none with an audio name
    assert (code, err) == (1, ["no audio file found in texts: nothing written"])
    assert os.listdir(tmp_path / "out2") == []  # no header-only shard, no staging folder left
    code, err = beam_label("empty", "--out", "out3/rows", cwd=tmp_path)
    assert code == 1 and shard_rows(str(tmp_path / "out3" / "rows"))[0]["error"] == "no file matches"


@pytest.mark.slow  # measured over 5 s on 2 busy cores (--durations)
def test_special_files_are_error_rows_not_a_hang(folder, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    os.symlink(folder / "03a01Fa.wav", d / "a.wav")
    os.mkfifo(d / "x.wav")
    code, err = beam_label("d", "--out", "out/rows", cwd=tmp_path)
    assert code == 1 and err == ["labelled 2 files (1 error rows) into 1 file(s) out/rows-*"]
    rows = {r["path"]: r["error"] for r in shard_rows(str(tmp_path / "out" / "rows"))}
    assert rows == {"d/a.wav": "", "d/x.wav": "not a regular file (FIFO)"}


@pytest.mark.slow  # measured over 5 s on 2 busy cores (--durations)
def test_a_second_run_replaces_the_first_runs_shards(folder, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for i in range(3):  # an earlier run onto the same prefix wrote three shards
        (out / f"rows-{i:05d}-of-00003.csv").write_text("path,error\nold.wav,\n")
    (out / "rows-extra-00000-of-00001.csv").write_text("another prefix's shard\n")
    (out / "rows-00000-of-00001.jsonl").write_text("{}\n")  # the other format: not this run's
    code, err = beam_label(str(folder / "03a01Fa.wav"), str(folder / "16a01Wb.wav"), "--out", "out/rows", cwd=tmp_path)
    assert code == 0 and err == ["labelled 2 files (0 error rows) into 1 file(s) out/rows-*"]
    assert sorted(os.listdir(out)) == ["rows-00000-of-00001.csv", "rows-00000-of-00001.jsonl",
                                       "rows-extra-00000-of-00001.csv"]
    assert sorted(os.path.basename(r["path"]) for r in shard_rows(str(out / "rows"))) == ["03a01Fa.wav", "16a01Wb.wav"]


def test_a_failed_run_leaves_the_earlier_output(folder, tmp_path, monkeypatch):
    """The model fails on the workers (simulated): the earlier shards stay, no staging folder is left."""
    from kerasser.serve import beam_labeling
    out = tmp_path / "out"
    out.mkdir()
    (out / "rows-00000-of-00001.csv").write_text("path,error\nold.wav,\n")

    def fail(*args, **kwargs):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(beam_labeling, "label_source", fail)
    with pytest.raises(Exception, match="worker lost"):
        beam_labeling.label_with_beam([str(folder / "03a01Fa.wav")], str(out / "rows"))
    assert os.listdir(out) == ["rows-00000-of-00001.csv"]
    assert (out / "rows-00000-of-00001.csv").read_text() == "path,error\nold.wav,\n"


@pytest.mark.slow  # measured over 5 s on 2 busy cores (--durations)
def test_bad_pipeline_options_and_folder_prefix(folder, tmp_path):
    code, err = beam_label(str(folder / "03a01Fa.wav"), "--out", "out/rows", "--beam-option", "runner=NoSuchRunner",
                           cwd=tmp_path)
    assert code == 2 and len(err) == 1 and err[0].startswith("Error: bad Beam pipeline options (Unexpected pipeline runner")
    code, err = beam_label(str(folder / "03a01Fa.wav"), "--out", "out/", cwd=tmp_path)
    assert (code, err) == (2, ["Error: out/: names a folder: --out PREFIX names the output files (e.g. labels/rows)"])
    assert os.listdir(tmp_path) == []
