"""kerasser.errors and the CLI's error policy: domain errors are one line, anything else is an
internal error that says how to get its traceback (--debug / KERASSER_DEBUG=1)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from kerasser_cli.main import cli

from kerasser.errors import (
    AudioError,
    CorpusError,
    DataError,
    ExportError,
    KerasserError,
    ModelError,
    RunError,
    SettingsError,
)
from kerasser.serve.labeling import Labeler

REPO = Path(__file__).resolve().parents[1]


def test_one_line_path_and_reason():
    assert str(KerasserError("no  labels\nhere")) == "no labels here"
    assert str(AudioError("a/b.wav", "not audio")) == "a/b.wav: not audio"
    assert str(CorpusError("m.csv", "bad\tcell", line=4)) == "m.csv:4: bad cell"
    assert str(RunError("unfinished", path="runs/x")) == "runs/x: unfinished"
    assert str(AudioError("odd\nname.wav", "x")) == "odd\\nname.wav: x"  # the name stays one line


@pytest.mark.parametrize("error", [
    AudioError("a.wav", "r"), CorpusError("c", "r", line=2), RunError("r", path="p"), ExportError("r"),
    ModelError("r", path="m"), SettingsError("r"), DataError("r"),
])
def test_every_domain_error_is_a_picklable_kerasser_error(error):
    assert isinstance(error, KerasserError)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error) and copy.path == error.path


def test_settings_and_data_errors_stay_value_errors():
    from kerasser.config import ModelConfig

    assert issubclass(SettingsError, ValueError) and issubclass(DataError, ValueError)
    with pytest.raises(SettingsError, match="recurrent_stride"):
        ModelConfig(recurrent_stride=0)


def test_cli_turns_domain_errors_into_one_line(monkeypatch, tmp_path):
    def unusable(cls, *args, **kwargs):
        raise ModelError("not a usable TFLite model (bad magic)", path="m/model.tflite")

    monkeypatch.setattr(Labeler, "load", classmethod(unusable))
    result = CliRunner().invoke(cli, ["label", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip() == "Error: m/model.tflite: not a usable TFLite model (bad magic)"


def test_cli_reports_unexpected_errors_as_internal(monkeypatch, tmp_path):
    def buggy(cls, *args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(Labeler, "load", classmethod(buggy))
    # set (to "off") before --debug sets it, so that the test ends with the variable as it found it
    monkeypatch.setenv("KERASSER_DEBUG", "")
    result = CliRunner().invoke(cli, ["label", str(tmp_path)])
    assert result.exit_code == 70
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "internal error (KeyError" in lines[0] and "--debug" in lines[0]

    result = CliRunner().invoke(cli, ["--debug", "label", str(tmp_path)])
    assert isinstance(result.exception, KeyError)  # raised through: the traceback is shown
    monkeypatch.setenv("KERASSER_DEBUG", "1")
    assert isinstance(CliRunner().invoke(cli, ["label", str(tmp_path)]).exception, KeyError)


@pytest.mark.parametrize("missing, extra", [("tensorflow.python", "train"), ("sklearn", "train"), ("yaml", None)])
def test_missing_module_of_an_extra_names_the_extra(monkeypatch, tmp_path, missing, extra):
    def without(cls, *args, **kwargs):
        raise ModuleNotFoundError(f"No module named {missing!r}", name=missing)

    monkeypatch.setattr(Labeler, "load", classmethod(without))
    monkeypatch.delenv("KERASSER_DEBUG", raising=False)
    result = CliRunner().invoke(cli, ["label", str(tmp_path)])
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    if extra:
        top = missing.split(".")[0]
        assert result.exit_code == 1
        assert lines[0] == (f"Error: cli label needs {top}, which this install lacks: "
                            f"pip install 'kerasser[{extra}]' (the base install labels with LiteRT only)")
    else:  # a module no extra provides is a broken install: an internal error
        assert result.exit_code == 70 and "internal error (ModuleNotFoundError" in lines[0]


@pytest.mark.slow
def test_load_model_in_a_fresh_process():
    """``kerasser.load_model`` loads the shipped model.keras with nothing else imported first."""
    model = REPO / "exported" / "emodb-avde" / "model.keras"
    if not model.is_file():
        pytest.skip("no shipped model in this checkout")
    code = (
        "import sys, kerasser; m = kerasser.load_model(sys.argv[1]); "
        "print(sorted(m.output) if isinstance(m.output, dict) else m.output)"
    )
    done = subprocess.run([sys.executable, "-c", code, str(model)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "arousal" in done.stdout and "emotion" in done.stdout


def test_output_folder_that_is_a_file_is_a_one_line_error(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("a file")
    for command in (["train"], ["crossval"]):
        result = CliRunner().invoke(cli, [*command, "--corpus", "manifest", "--data", str(tmp_path / "m.csv"),
                                          "--out", str(taken)])
        assert result.exit_code == 1, result.output
        assert result.output.strip() == f"Error: {taken}: exists and is not a folder"


def test_control_characters_of_names_are_escaped_in_error_lines():
    """Any command's library error naming a file with control characters (an ANSI escape, a bell, a
    carriage return) shows them escaped, so the terminal shows the name instead of obeying it."""
    import click
    from kerasser_cli.main import friendly_errors

    from kerasser.errors import DataError

    @click.command()
    @friendly_errors
    def broken():
        raise DataError("cannot be read", path="clips/esc\x1b[31mred\x07\r.wav")

    result = CliRunner().invoke(broken, [])
    assert result.exit_code == 1
    assert result.output == "Error: clips/esc\\x1b[31mred\\x07\\r.wav: cannot be read\n"
