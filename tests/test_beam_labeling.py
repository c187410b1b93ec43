"""``kerasser label --runner beam``: an Apache Beam pipeline (DirectRunner) over real EmoDB files gives
the rows of the single-machine ``label``, error rows included, in sharded files with the header."""

from __future__ import annotations

import glob
import json
import os

import pytest
from click.testing import CliRunner

pytest.importorskip("apache_beam")

from kerasser_cli.main import cli  # noqa: E402

NAMES = ("03a01Fa", "03a01Nc", "08a01Ab", "15a01La", "16a01Wb", "13a02Wa")


@pytest.fixture(scope="module")
def folder(shared_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("beam_in")
    for name in NAMES:
        os.symlink(shared_data / "emodb" / "wav" / f"{name}.wav", folder / f"{name}.wav")
    (folder / "broken.wav").write_bytes(b"not audio")
    (folder / "notes.txt").write_text("not an audio name: never labelled")
    return folder


def shards(prefix, suffix):
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
    for shard in shards(prefix, f".{fmt}"):
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
