"""Honest exits and quiet logs (issue 41): argument errors before TensorFlow is imported; real
``train``, ``evaluate`` and ``explain`` processes whose stderr holds kerasser's own lines only;
``--no-attention`` on the default recipe; the four-task default; exit codes as ``--help`` says."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from doc_examples import NOISE
from kerasser_cli.main import cli

REPO = Path(__file__).resolve().parents[1]


def kerasser(*args, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("KERASSER_MODEL", "TF_CPP_MIN_LOG_LEVEL", "KERASSER_DEBUG")}
    return subprocess.run([sys.executable, "-m", "kerasser", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=600, **kwargs)


@pytest.mark.parametrize("args, code, message", [
    (["--tasks", "a,x"], 2, "Invalid value for '--tasks': unknown task 'x'"),
    (["--tasks", "a,a"], 2, "task listed twice"),
    (["--no-attention", "--pool-heads", "4"], 1, "pool_heads and pool_statistics need attention pooling"),
    (["--recipe", "nope"], 2, "Invalid value for '--recipe'"),
])
def test_argument_errors_come_before_tensorflow(args, code, message, tmp_path):
    probe = (
        "import sys, time; t = time.perf_counter()\n"
        "from click.testing import CliRunner\nfrom kerasser_cli.main import cli\n"
        "r = CliRunner().invoke(cli, sys.argv[1:])\n"
        "print(r.exit_code, 'tensorflow' in sys.modules, round(time.perf_counter() - t, 2)); print(r.output)\n"
    )
    argv = ["train", "--corpus", "emodb", "--data", str(tmp_path), *args, "--out", str(tmp_path / "r")]
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=60)
    exit_code, imported, seconds = done.stdout.split("\n")[0].split()
    assert int(exit_code) == code and message in done.stdout
    assert imported == "False" and float(seconds) < 1.0  # was 11 s: TensorFlow imported first


def test_no_attention_on_the_default_recipe_is_the_last_step_model():
    from kerasser.training.recipes import build_train_config

    notes = []
    config = build_train_config(corpora=(("emodb", "x"),), out="r", tasks=None, attention=False, note=notes.append)
    assert not config.model.attention and config.model.pool_heads == 1 and not config.model.pool_statistics
    assert config.model.tasks == ("arousal", "valence", "dominance", "emotion")  # the README's a,v,d,e
    assert notes == ["no attention: each task pools the last GRU step (the paper's last-step model), so 4 attention "
                     "heads per task and attentive statistics (which need attention pooling) are off"]
    paper = build_train_config("paper", corpora=(("emodb", "x"),), out="r", attention=False, note=notes.append)
    assert not paper.model.attention and len(notes) == 1  # nothing else to switch off: no note
    result = CliRunner().invoke(cli, ["train", "--help"])
    assert "[default: a,v,d,e, or --config's]" in " ".join(result.output.split())


def test_help_examples_name_files_that_exist():
    for name in cli.commands:
        text = CliRunner().invoke(cli, [name, "--help"]).output
        for path in re.findall(r"examples/[\w.]+\.wav", text):
            assert (REPO / path).is_file(), f"kerasser {name} --help names {path}"
    assert "examples/16a04Fa.wav" in CliRunner().invoke(cli, ["explain", "--help"]).output


@pytest.mark.slow  # measured over 5 s on 2 busy cores (--durations)
def test_exit_codes_are_the_ones_help_gives(tmp_path):
    help_text = " ".join(kerasser("--help").stdout.split())
    for promise in ("0 done", "1 an error", "2 bad usage", "70 an internal error", "130 interrupted"):
        assert promise in help_text
    assert kerasser("train", "--no-such-option").returncode == 2
    assert kerasser("evaluate", tmp_path).returncode == 1  # not a run folder: one Error: line
    assert kerasser("label", tmp_path).returncode == 1  # no audio found
    assert kerasser("label", tmp_path, "--model", tmp_path / "none").returncode == 2


def _only_kerasser_lines(stderr: str) -> list[str]:
    lines = stderr.splitlines()
    noise = [line for line in lines if NOISE.search(line)]
    assert not noise, noise
    return lines


@pytest.mark.slow
def test_train_evaluate_explain_stderr_holds_only_kerasser_lines(emodb_small, tmp_path):
    run = tmp_path / "run"
    train = kerasser("train", "--corpus", "manifest", "--data", emodb_small, "--no-attention", "--epochs", "1",
                     "--batch-size", "8", "--out", run)
    assert train.returncode == 0, train.stderr
    lines = _only_kerasser_lines(train.stderr)
    assert lines[0].startswith("note: no attention: each task pools the last GRU step")
    assert lines[1].startswith("train 12 utterances, dev 6; tasks arousal, valence, dominance, emotion")
    assert lines[-2].startswith("epoch 1/1") and lines[-1].startswith("best mean dev UAR")
    assert len(lines) == 5 and train.stdout == ""  # was 11 lines, 9 of them TensorFlow's
    model = json.loads((run / "config.json").read_text())["model"]
    assert (model["attention"], model["pool_heads"], model["pool_statistics"]) == (False, 1, False)
    assert (run / "learning_curves.png").is_file()

    evaluate = kerasser("evaluate", run, "--no-confusion")
    assert evaluate.returncode == 0 and evaluate.stderr == ""
    assert evaluate.stdout.startswith("manifest test: 6 files")

    explain = kerasser("explain", REPO / "examples" / "16a01Wb.wav", "--out", tmp_path / "x.png")
    assert explain.returncode == 0 and explain.stderr == ""  # no "INFO: Created TensorFlow Lite XNNPACK ..."
    assert explain.stdout.strip() == str(tmp_path / "x.png")


@pytest.mark.slow
def test_ctrl_c_is_exit_130_without_a_traceback(emodb_small, tmp_path):
    # far more epochs than the test waits for, and no early stop: the signal always finds training
    # running (with 50 epochs and patience 15 a loaded machine could finish before it was sent)
    process = subprocess.Popen(
        [sys.executable, "-m", "kerasser", "train", "--corpus", "manifest", "--data", str(emodb_small), "--epochs",
         "10000", "--patience", "10000", "--batch-size", "4", "--out", str(tmp_path / "run")],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=REPO)
    first = process.stderr.readline()  # TensorFlow imported, data read
    epoch = first
    while epoch and not epoch.startswith("epoch "):  # the first epoch's line: inside the training loop
        epoch = process.stderr.readline()
    process.send_signal(signal.SIGINT)
    rest = process.communicate(timeout=120)[1]
    assert first.startswith("train 12 utterances") and epoch.startswith("epoch 1/10000")
    assert process.returncode == 130
    assert "Traceback" not in rest and "Aborted" not in rest
