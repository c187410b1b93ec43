"""``kerasser train`` killed with SIGKILL mid-run and resumed with ``--resume`` continues from the
last finished epoch with the same configuration and ends with the same weights as a run of the same
seed that never stopped, bit for bit: the epoch's data order and augmentation depend on (seed,
epoch) only, every epoch has the same number of batches (Keras keeps the first epoch's count), and
the checkpoint (``last.keras``) holds the optimiser's state and, inside it, the layers' random-seed
counters. Without those three, the resumed epochs' losses differed in the second digit."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from kerasser.config import save_json
from kerasser.training.recipes import build_train_config

pytestmark = pytest.mark.slow

EPOCHS = 3


def command(*args) -> list[str]:
    return [sys.executable, "-m", "kerasser_cli", *map(str, args)]


def test_killed_and_resumed_run_ends_with_the_same_weights(emodb_small, tmp_path):
    import kerasser

    # the default recipe in miniature: augmentation, dropout, SpecAugment-free log-mel blocks, AdamW + cosine
    config = build_train_config(
        "default", corpora=(("manifest", str(emodb_small)),), out=str(tmp_path / "unused"),
        tasks=("arousal", "valence"), epochs=EPOCHS, batch_size=4, block_channels=(16, 16),
        block_dilations=(1, 2), gru_units=8, mel_bins=32,
    )
    save_json(config, tmp_path / "config.json")
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(command("train", "--config", tmp_path / "config.json", "--out", whole), check=True,
                   capture_output=True)

    proc = subprocess.Popen(command("train", "--config", tmp_path / "config.json", "--out", killed),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = killed / "state.json"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if state.exists() and json.loads(state.read_text())["epoch"] >= 1:
            time.sleep(0.1)  # into the next epoch
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    stopped_after = json.loads(state.read_text())["epoch"]
    assert 1 <= stopped_after < EPOCHS

    resumed = subprocess.run(command("train", "--out", killed, "--resume"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming after epoch {stopped_after}" in resumed.stderr
    assert json.loads((killed / "config.json").read_text()) == json.loads((whole / "config.json").read_text()) | {
        "out": str(killed)}

    with open(whole / "metrics.csv") as a, open(killed / "metrics.csv") as b:
        rows_a, rows_b = list(csv.DictReader(a)), list(csv.DictReader(b))
    assert [r["epoch"] for r in rows_b] == [str(e) for e in range(EPOCHS)]
    assert rows_a == rows_b  # every epoch's losses and dev UARs, to the last digit
    a = kerasser.load_model(whole / "last.keras").get_weights()
    b = kerasser.load_model(killed / "last.keras").get_weights()
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)  # bit for bit
