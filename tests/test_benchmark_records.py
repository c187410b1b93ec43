"""The benchmarks' committed records stay true to their names.

Each record in ``benchmarks/results/accuracy_runs`` is the scores of one run of a named configuration
(``benchmarks/accuracy.py``'s ``CONFIGS``: a recipe plus overrides), and each in
``benchmarks/results/ablation_runs`` one run of a row of ``benchmarks/ablation.py`` under its default
``--recipe``. When the default recipe changes, the configurations built on it must be re-pinned (as
``v4`` pins the fourth default), or the README's rows would silently name another recipe than the one
that made them, and the commands beside them would no longer repeat them. This checks every record's
stored configuration against what its name resolves to today.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from benchmark_scripts import ROOT, load_benchmark  # tests/benchmark_scripts.py

from kerasser.config import to_dict, train_config_from_dict
from kerasser.tasks import TASKS

RECORDS = ROOT / "benchmarks" / "results" / "accuracy_runs"
ABLATION_RECORDS = ROOT / "benchmarks" / "results" / "ablation_runs"
RECORD_NAME = re.compile(r"(?P<name>.+)\.(?P<protocol>fixed|loso)\.seed(?P<seed>\d+)\.json")


accuracy = load_benchmark("accuracy")
ablation = load_benchmark("ablation")


class _Args:
    data = "../shared/data"
    runs = "runs/accuracy"


def _comparable(config: dict) -> dict:
    """The configuration without where it ran: output folder, corpus folders, teacher run folders."""
    config = json.loads(json.dumps(to_dict(train_config_from_dict(config))))
    config["corpora"] = [name for name, _ in config["corpora"]]
    for key in ("out", "distill_from"):
        config.pop(key)
    return config


def _resolved(name: str, protocol: str, seed: int) -> dict:
    if name in accuracy.TEACHERS:  # needs its teachers' runs: resolve with stand-in teacher folders
        recipe, overrides, _ = accuracy.CONFIGS[name]
        from kerasser.training.recipes import build_train_config

        config = build_train_config(recipe, corpora=(("emodb", "x"),), out="x", tasks=accuracy.TASKS, seed=seed,
                                    distill_from=("t",), **overrides)
    else:
        config = accuracy.train_config(name, protocol, seed, _Args)
    return _comparable(json.loads(json.dumps(to_dict(config))))


def _records():
    found = []
    for path in sorted(RECORDS.glob("*.json")):
        match = RECORD_NAME.fullmatch(path.name)
        if match:
            found.append(pytest.param(match["name"], match["protocol"], int(match["seed"]), path, id=path.stem))
    return found


def test_every_record_names_a_configuration():
    names = {re.sub(r"\.(fixed|loso)\.seed\d+\.json$|(\.loso)?\.ensemble-[\d-]+\.json$", "", path.name)
             for path in RECORDS.glob("*.json")}
    assert names, "no records found"
    assert sorted(names - set(accuracy.CONFIGS)) == []


@pytest.mark.parametrize("name, protocol, seed, path", _records())
def test_record_was_made_by_the_configuration_it_is_named_after(name, protocol, seed, path):
    stored = json.loads(path.read_text())
    assert stored["config"]["seed"] == seed
    assert _comparable(stored["config"]) == _resolved(name, protocol, seed)


def test_a_changed_recipe_is_told_apart():
    stored = json.loads((RECORDS / "paper.fixed.seed0.json").read_text())["config"]
    assert _comparable(stored) != _resolved("paper+lr1e-3", "fixed", 0)


def _ablation_records():
    return [pytest.param(path, id=path.stem) for path in sorted(ABLATION_RECORDS.glob("*.seed*.json"))]


@pytest.mark.parametrize("path", _ablation_records())
def test_ablation_record_was_made_by_its_row_under_the_default_recipe_option(path, monkeypatch):
    stored = json.loads(path.read_text())
    row, seed = stored["row"], stored["seed"]
    name = path.name.rsplit(".seed", 1)[0]
    tasks = dict(ablation.planned(row))[name]
    # the tuned row's loss weights come from a kerasser tune run, not kept: take the record's
    monkeypatch.setattr(ablation, "tuned_weights", lambda _path, _tasks: tuple(stored["config"]["loss_weights"]))

    class Args:
        data, runs, epochs, tuned = "../shared/data", "runs/ablation", None, "unused"
        recipe = ablation.DEFAULT_RECIPE

    config = ablation.train_config(row, name, tasks, seed, Args)
    assert _comparable(stored["config"]) == _comparable(json.loads(json.dumps(to_dict(config))))


def test_an_ensemble_whose_member_runs_are_gone_is_left_out_not_rebuilt(tmp_path):
    """A configuration with three seed records but (some of) its run folders deleted has no
    ensemble to score: the report leaves its row out instead of failing."""

    class Args:
        data, runs, records = "../shared/data", str(tmp_path / "runs"), str(tmp_path / "records")

    (tmp_path / "runs" / "v5+heads2" / "fixed" / "seed2").mkdir(parents=True)
    (tmp_path / "runs" / "v5+heads2" / "fixed" / "seed2" / "scores.json").write_text("{}")
    assert accuracy.run_ensemble("v5+heads2", [0, 1, 2], Args) is None
    assert not (tmp_path / "runs" / "v5+heads2" / "ensemble-0-1-2").exists()


def test_models_with_speaker_references_get_no_ensemble_row(tmp_path, capsys):
    """kerasser ensemble takes waveform-only models: with every member trained, a configuration
    whose models take speaker references is still left out of the ensemble rows, with a line."""

    class Args:
        data, runs, records = "../shared/data", str(tmp_path / "runs"), str(tmp_path / "records")

    for seed in (0, 1, 2):
        folder = tmp_path / "runs" / "v5+speaker" / "fixed" / f"seed{seed}"
        folder.mkdir(parents=True)
        (folder / "scores.json").write_text("{}")
    assert accuracy.run_ensemble("v5+speaker", [0, 1, 2], Args) is None
    assert "speaker references" in capsys.readouterr().err
    assert not (tmp_path / "runs" / "v5+speaker" / "ensemble-0-1-2").exists()


def test_a_loso_ensemble_needs_every_seed_finished(tmp_path):
    """The LOSO ensemble row is made per held-out speaker from each seed's fold model: with one
    seed's cross-validation unfinished (no crossval.json) there is no row and nothing is built."""

    class Args:
        data, runs, records = "../shared/data", str(tmp_path / "runs"), str(tmp_path / "records")

    for seed in (0, 1):
        root = tmp_path / "runs" / "default" / "loso" / f"seed{seed}"
        root.mkdir(parents=True)
        (root / "crossval.json").write_text(json.dumps({"folds": [{"fold": "03"}]}))
    (tmp_path / "runs" / "default" / "loso" / "seed2" / "fold-03").mkdir(parents=True)
    assert accuracy.run_loso_ensemble("default", [0, 1, 2], Args) is None
    assert not (tmp_path / "runs" / "default" / "loso" / "ensemble-0-1-2").exists()


def test_a_kept_loso_ensemble_record_is_reported_without_its_runs(tmp_path):
    """A committed LOSO ensemble record is the row on a fresh checkout (no run folders there)."""

    class Args:
        data, runs, records = "../shared/data", str(tmp_path / "runs"), str(tmp_path / "records")

    kept = json.loads((RECORDS / "v5.loso.ensemble-0-1-2.json").read_text())
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "v5.loso.ensemble-0-1-2.json").write_text(json.dumps(kept))
    assert accuracy.run_loso_ensemble("v5", [0, 1, 2], Args) == kept
    assert [f["fold"] for f in kept["folds"]] == ["03", "08", "09", "10", "11", "12", "13", "14", "15", "16"]
    from kerasser.evaluate.crossval import pooled_uar

    # the pooled figures are those of the folds' summed confusion matrices, each fold one speaker
    assert kept["pooled"] == pytest.approx({t: pooled_uar(kept["folds"], t) for t in accuracy.TASKS})
    assert sum(f["files"] for f in kept["folds"]) == 535


def _loso_record(seed: int, wrong: int) -> dict:
    """A LOSO record of two one-speaker folds whose every task is right on all clips but clip
    ``wrong`` of each fold (ranked second there)."""
    folds = []
    for speaker in ("03", "08"):
        predictions = {}
        for task in accuracy.TASKS:
            classes = len(TASKS[task].classes)
            labels = [i % classes for i in range(4)]
            probs = np.full((4, classes), 0.1 / classes)
            probs[np.arange(4), labels] += 0.6
            probs[wrong, (labels[wrong] + 1) % classes] += 0.7
            probs /= probs.sum(axis=1, keepdims=True)
            predictions[task] = {"paths": [f"{speaker}/{i}.wav" for i in range(4)], "speakers": [f"emodb:{speaker}"] * 4,
                                 "labels": labels, "predicted": probs.argmax(1).tolist(), "probabilities": probs.tolist()}
        folds.append({"fold": speaker, "files": 4, "predictions": predictions})
    return {"config": {"seed": seed}, "folds": folds}


def test_a_loso_ensemble_is_made_from_records_with_probabilities(tmp_path):
    """Seeds run in different sessions (their run folders gone) still make the LOSO ensemble row
    when their records keep the folds' per-utterance probabilities; records without them do not."""

    class Args:
        data, runs, records = "../shared/data", str(tmp_path / "runs"), str(tmp_path / "records")

    (tmp_path / "records").mkdir()
    for seed, wrong in ((0, 0), (1, 1), (2, 2)):  # each seed wrong on another clip: the mean is right on all
        (tmp_path / "records" / f"default.loso.seed{seed}.json").write_text(json.dumps(_loso_record(seed, wrong)))
    made = accuracy.run_loso_ensemble("default", [0, 1, 2], Args)
    assert made["pooled"] == {t: 100.0 for t in accuracy.TASKS}
    assert [f["fold"] for f in made["folds"]] == ["03", "08"] and all("predictions" not in f for f in made["folds"])
    assert sum(np.sum(f["tasks"]["emotion"]["confusion"]) for f in made["folds"]) == 8
    assert json.loads((tmp_path / "records" / "default.loso.ensemble-0-1-2.json").read_text()) == made
    assert not (tmp_path / "runs").exists()
    old = _loso_record(3, 0)
    for fold in old["folds"]:
        del fold["predictions"]
    for seed in (3, 4, 5):
        (tmp_path / "records" / f"default.loso.seed{seed}.json").write_text(json.dumps({**old, "config": {"seed": seed}}))
    assert accuracy.loso_ensemble_from_records("default", [3, 4, 5], Args) is None
    assert accuracy.loso_ensemble_from_records("default", [0, 1, 6], Args) is None  # seed 6 never ran


def test_records_keep_lists_of_numbers_on_one_line(tmp_path):
    class Args:
        records = str(tmp_path)

    scores = {"confusion": [[1, 0], [2, 3]], "probabilities": [[0.25, 1e-06, 0.749999]], "paths": ["a", "b"], "x": []}
    accuracy.keep_record(Args, "r", scores)
    text = (tmp_path / "r.json").read_text()
    assert json.loads(text) == scores
    assert "[1, 0]" in text and "[0.25, 1e-06, 0.749999]" in text and '"a",\n' in text


def test_seed_triples_are_disjoint_consecutive_ensembles():
    assert accuracy.seed_triples([2, 0, 1]) == [[0, 1, 2]]
    assert accuracy.seed_triples(range(8)) == [[0, 1, 2], [3, 4, 5]]  # 6, 7: no full triple
    assert accuracy.seed_triples([0, 1]) == []


def test_a_row_of_six_seeds_gets_two_disjoint_ensembles_and_their_mean(tmp_path):
    """With six seeds, the report scores the ensembles of seeds 0-2 and 3-5 (no seed in both) and
    adds the ensemble recipe's own mean ± sd over them; run from kept records on a fresh checkout."""

    records = tmp_path / "records"
    records.mkdir()
    seed0 = json.loads((RECORDS / "default.fixed.seed0.json").read_text())
    for seed in range(6):
        run = {**seed0, "config": {**seed0["config"], "seed": seed}}
        (records / f"default.fixed.seed{seed}.json").write_text(json.dumps(run))
    tests = {"0-1-2": 70.0, "3-4-5": 74.0}
    for key, emotion in tests.items():
        e = {"seeds": [int(s) for s in key.split("-")], "dev": {t: 80.0 for t in accuracy.TASKS},
             "test": {t: emotion for t in accuracy.TASKS}, "baved_test": 45.0,
             "speaker_norm": {"test": {t: emotion for t in accuracy.TASKS}, "baved_test": 40.0}}
        (records / f"default.ensemble-{key}.json").write_text(json.dumps(e))

    class Args:
        data, runs, records = "../shared/data", str(tmp_path / "runs"), str(tmp_path / "records")

    Args.records = str(records)
    table = accuracy.report(Args)
    assert "| **default, ensemble** of seeds 0,1,2 " in table
    assert "| **default, ensemble** of seeds 3,4,5 " in table
    mean_row = next(line for line in table.splitlines() if "ensembles of 3 seeds" in line)
    assert "72.0 ± 2.8" in mean_row  # mean and sd (ddof 1) of 70 and 74
    assert "| 2x3 |" in mean_row


def test_a_worker_ends_when_the_script_that_started_it_is_killed(tmp_path):
    """``--jobs`` workers watch their parent: killing the script stops the trainings too."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import importlib.util, multiprocessing, os, time\n"
        f"spec = importlib.util.spec_from_file_location('accuracy_benchmark', {str(ROOT / 'benchmarks' / 'accuracy.py')!r})\n"
        "accuracy = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(accuracy)\n"
        # the parent's pid is passed in, as the pool's initargs do: read in the child with
        # os.getppid(), it would be the reaper's if the parent were killed before the child ran
        "parent = os.getpid()\n"
        "child = multiprocessing.get_context('fork').Process(\n"
        "    target=lambda: (accuracy.exit_with_parent(parent, 0.1), time.sleep(120)))\n"
        "child.start()\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())

    def alive() -> bool:  # a zombie left for an init that does not reap counts as ended
        try:
            return Path(f"/proc/{worker}/stat").read_text().split(") ")[1][0] != "Z"
        except (FileNotFoundError, ProcessLookupError):
            return False

    assert alive()  # while its parent is
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 20
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive():
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the worker outlived its parent by 20 s")
