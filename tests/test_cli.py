"""The click app: fast help, a train + evaluate smoke run on real EmoDB clips, clean errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner
from kerasser_cli.main import cli


def test_help_does_not_import_tensorflow():
    code = (
        "import sys; from click.testing import CliRunner; from kerasser_cli.main import cli; "
        "r = CliRunner().invoke(cli, ['train', '--help']); assert r.exit_code == 0, r.output; "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.slow
def test_train_then_evaluate(emodb_small, tmp_path):
    run = tmp_path / "run"
    result = CliRunner().invoke(
        cli,
        ["train", "--corpus", "manifest", "--data", str(emodb_small), "--tasks", "a,v,d,e",
         "--attention", "--epochs", "1", "--batch-size", "8", "--lr", "1e-3", "--out", str(run)],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # progress goes to stderr; stdout is for data
    assert "epoch 1/1" in result.stderr and "best mean dev UAR" in result.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["model"]["tasks"] == ["arousal", "valence", "dominance", "emotion"]
    assert config["model"]["attention"] is True and config["model"]["frontend"] == "logmel"  # default recipe
    assert config["optimizer"] == "adamw" and config["augment"]["speed"] == [0.9, 1.0, 1.1]

    result = CliRunner().invoke(cli, ["evaluate", str(run), "--split", "test"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "manifest test: 6 files"
    table = {line.split()[0]: line.split() for line in lines[2:7]}
    assert set(table) == {"arousal", "valence", "dominance", "emotion", "mean"}
    report = json.loads((run / "eval_manifest_test.json").read_text())
    for task in ("arousal", "valence", "dominance", "emotion"):
        assert float(table[task][1]) == pytest.approx(report["tasks"][task]["uar"], abs=0.05)
    assert "rows: truth, columns: predicted" in result.stdout

    result = CliRunner().invoke(cli, ["evaluate", str(run), "--split", "test", "--speaker-norm", "--no-confusion"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "manifest test: 6 files, speaker-normalised"
    assert json.loads((run / "eval_manifest_test_speaker-norm.json").read_text())["speaker_norm"] is True


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--corpus", "emodb", "--data", "/no/such/emodb", "--out", "{tmp}/r"], "/no/such/emodb"),
        (["train", "--corpus", "emodb", "--out", "{tmp}/r"], "--data"),
        (["train", "--corpus", "emodb", "--data", ".", "--tasks", "a,x", "--out", "{tmp}/r"], "unknown task 'x'"),
        (["train", "--out", "{tmp}/r", "--resume"], "not a run folder"),
        (["evaluate", "{tmp}"], "not a run folder"),
        (["train", "--corpus", "emodb", "--data", "{tmp}", "--tasks", "a,v", "--loss-weights", "1,2,3", "--out",
          "{tmp}/r"], "3 loss weights given for 2 tasks"),
        (["train", "--corpus", "emodb", "--data", "{tmp}", "--out", "{tmp}/r"], "no EmoDB audio found (expected wav/*.wav)"),
        (["train", "--corpus", "iemocap", "--data", "{tmp}", "--out", "{tmp}/r"], "{tmp}"),
        (["export", "{tmp}", "--out", "{tmp}/e"], "not a run folder"),
        (["train", "--corpus", "emodb", "--data", "{tmp}", "--distill-from", "{tmp}", "--out", "{tmp}/r"],
         "not a run folder"),
        (["crossval", "--corpus", "emodb", "--data", "{tmp}", "--folds", "1", "--out", "{tmp}/cv"], "at least 2 folds"),
        (["crossval", "--corpus", "emodb", "--data", "{tmp}", "--folds", "speakers", "--out", "{tmp}/cv"],
         "expected loso, protocol, corpus or a number of folds"),
        (["train", "--corpus", "emodb", "--data", "{tmp}", "--freeze", "encoder", "--out", "{tmp}/r"],
         "freezing layers needs a model to start from"),
        (["train", "--corpus", "emodb", "--data", "{tmp}", "--init-from", "{tmp}/nothing", "--out", "{tmp}/r"],
         "{tmp}/nothing: not a run folder with best.keras"),
        (["tune", "--corpus", "emodb", "--data", "{tmp}", "--trials", "0", "--out", "{tmp}/t"], "--trials"),
        (["label", "{tmp}", "--model", "{tmp}/no-model"], "no such model folder"),
    ],
)
def test_errors_are_one_line(args, message, tmp_path):
    result = CliRunner().invoke(cli, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code in (1, 2)
    assert "Traceback" not in result.output
    assert message.replace("{tmp}", str(tmp_path)) in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
