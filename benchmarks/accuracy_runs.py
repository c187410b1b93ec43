"""``benchmarks/accuracy.py``'s runs: training (or reusing) a row's fixed-split and LOSO runs, their
ensembles, and the per-run records kept in ``--records``."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

from accuracy_configs import TASKS, train_config


def same_config(stored: dict, wanted: dict) -> bool:
    """Whether a finished run's configuration is ``wanted`` (fields added since it ran, at any
    level such as ``augment.mixup_alpha``, count as equal when ``wanted`` has their default)."""
    from kerasser.config import to_dict, train_config_from_dict

    try:
        stored = json.loads(json.dumps(to_dict(train_config_from_dict(stored))))
    except TypeError:  # a field removed since
        return False
    return {k: v for k, v in stored.items() if k != "out"} == {k: v for k, v in wanted.items() if k != "out"}


def exit_with_parent(parent: int, interval: float = 2.0) -> None:
    """Worker initializer for ``--jobs``: end this worker process once the script that started it
    (process ``parent``) is gone. Killing the script (``kill``, ``pkill``) does not reach the pool's
    workers, which would otherwise go on training their remaining runs unseen; they stop within
    ``interval`` seconds, and the same command resumes what they left."""
    import threading

    def watch():
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def run_fixed(name: str, seed: int, args) -> dict:
    """Train (or reuse / resume) one fixed-split run; its scores, also kept as scores.json."""
    threads(args)
    from kerasser.config import to_dict
    from kerasser.evaluate.run import evaluate_run
    from kerasser.training.loop import train
    from kerasser.training.runs import RunPaths, read_state

    config = train_config(name, "fixed", seed, args)
    out = Path(config.out)
    scores_file = out / "scores.json"
    if scores_file.exists():
        scores = json.loads(scores_file.read_text())
        if same_config(scores["config"], json.loads(json.dumps(to_dict(config)))):
            if "speaker_norm" not in scores:  # finished before speaker-normalised scoring was added
                scores["speaker_norm"] = speaker_norm_scores(out, config.corpora[:1], args)
                scores_file.write_text(json.dumps(scores, indent=2) + "\n")
                keep_record(args, f"{name}.fixed.seed{seed}", scores)
            return scores
        raise SystemExit(f"{out}: holds a run of another configuration; move it away or pick another --runs")
    state = read_state(RunPaths(out))
    start = time.monotonic()
    seconds = None  # trained before this script ran
    if state and (state["epoch"] >= config.epochs or state["wait"] >= config.patience):
        best_epoch, epochs = state["best_epoch"], state["epoch"]  # finished (or stopped early) before
    else:
        result = train(config, resume=state is not None)
        best_epoch, epochs = result.best_epoch, result.epochs_done
        seconds = round(time.monotonic() - start)
    scores = {
        "config": to_dict(config),
        "best_epoch": best_epoch,
        "epochs": epochs,
        "train_seconds": seconds,
        "dev": {t: r["uar"] for t, r in evaluate_run(out, "dev", corpora=config.corpora[:1])["tasks"].items()},
        "test": {t: r["uar"] for t, r in evaluate_run(out, "test", corpora=config.corpora[:1])["tasks"].items()},
    }
    baved = Path(args.data) / "baved"
    if baved.is_dir():
        report = evaluate_run(out, "test", corpora=(("baved", str(baved)),))
        scores["baved_test"] = report["tasks"]["arousal"]["uar"]
    scores["speaker_norm"] = speaker_norm_scores(out, config.corpora[:1], args)
    scores_file.write_text(json.dumps(scores, indent=2) + "\n")
    keep_record(args, f"{name}.fixed.seed{seed}", scores)
    return scores


def speaker_norm_scores(out: Path, corpora, args) -> dict:
    """The run's test UAR (and BAVED test arousal) with each speaker's predictions centred on that
    speaker's mean (``kerasser evaluate --speaker-norm``): transductive, like PROTOCOL.md's
    speaker-norm baselines."""
    from kerasser.evaluate.run import evaluate_run

    test = evaluate_run(out, "test", corpora=corpora, speaker_norm=True)
    scores = {"test": {t: r["uar"] for t, r in test["tasks"].items()}}
    baved = Path(args.data) / "baved"
    if baved.is_dir():
        report = evaluate_run(out, "test", corpora=(("baved", str(baved)),), speaker_norm=True)
        scores["baved_test"] = report["tasks"]["arousal"]["uar"]
    return scores


NUMBERS = re.compile(r"\[\s*(-?[\d.e+-]+(?:,\s*-?[\d.e+-]+)*)\s*\]")  # a JSON list of numbers only


def keep_record(args, key: str, scores: dict) -> None:
    """A copy of a finished run's scores in ``--records`` (committed beside the table), indented,
    with each list of numbers (a confusion matrix row, a clip's probabilities) on one line."""
    Path(args.records).mkdir(parents=True, exist_ok=True)
    text = NUMBERS.sub(lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]",
                       json.dumps(scores, indent=2))
    (Path(args.records) / f"{key}.json").write_text(text + "\n")


def run_ensemble(name: str, seeds: list[int], args) -> dict | None:
    """The ensemble of ``name``'s fixed-split runs of ``seeds`` (``kerasser ensemble``), scored
    like a run; kept as scores.json in ``<runs>/<name>/ensemble-<seeds>``. None when it was never
    scored and some member's run folder is gone (only its record is left), or when the models take
    speaker references (``kerasser.training.ensemble`` builds on waveform-only models)."""
    from kerasser.evaluate.run import evaluate_run
    from kerasser.training.ensemble import make_ensemble_run

    key = f"ensemble-{'-'.join(map(str, seeds))}"
    out = Path(args.runs) / name / key
    scores_file = out / "scores.json"
    record = Path(args.records) / f"{name}.{key}.json"
    kept = record if record.exists() else scores_file if scores_file.exists() else None
    scores = json.loads(kept.read_text()) if kept else None
    trained = all((Path(args.runs) / name / "fixed" / f"seed{s}" / "scores.json").exists() for s in seeds)
    if scores is not None and ("speaker_norm" in scores or not trained):
        return scores  # (speaker-normalised figures are added while the members' runs are here)
    if not trained:
        return None
    members = [train_config(name, "fixed", s, args) for s in seeds]
    if members[0].model.feature_norm == "speaker":  # kerasser ensemble takes waveform-only models
        print(f"{name}: no ensemble row (its models need speaker references)", file=sys.stderr)
        return None
    if not (out / "best.keras").exists():
        make_ensemble_run([m.out for m in members], out)
    corpora = members[0].corpora[:1]
    # scored afresh from the members here (a record made before is replaced whole)
    scores = {
        "seeds": seeds,
        "dev": {t: r["uar"] for t, r in evaluate_run(out, "dev", corpora=corpora)["tasks"].items()},
        "test": {t: r["uar"] for t, r in evaluate_run(out, "test", corpora=corpora)["tasks"].items()},
    }
    baved = Path(args.data) / "baved"
    if baved.is_dir():
        scores["baved_test"] = evaluate_run(out, "test", corpora=(("baved", str(baved)),))["tasks"]["arousal"]["uar"]
    scores["speaker_norm"] = speaker_norm_scores(out, corpora, args)
    scores_file.write_text(json.dumps(scores, indent=2) + "\n")
    keep_record(args, f"{name}.{key}", scores)
    return scores


def run_loso_ensemble(name: str, seeds: list[int], args) -> dict | None:
    """The ensemble of ``name``'s LOSO runs of ``seeds``, per held-out speaker: the seeds' fold
    models of that speaker (none heard it; their dev speakers differ, drawn per seed) averaged as
    one model (``kerasser.training.ensemble``), scored on the speaker, confusion matrices pooled over the
    speakers like ``kerasser crossval``. Kept as ``<name>.loso.ensemble-<seeds>.json`` in
    ``--records``. Made from the seeds' kept records instead when they hold the folds'
    per-utterance probabilities (``loso_ensemble_from_records``: the same figures, no run folders
    needed). None when neither is possible (a member fold's run folder gone, or models that take
    speaker references)."""
    from kerasser.evaluate.crossval import fold_scores, pooled_uar
    from kerasser.training.ensemble import make_ensemble_run

    key = f"ensemble-{'-'.join(map(str, seeds))}"
    record = Path(args.records) / f"{name}.loso.{key}.json"
    if record.exists():
        return json.loads(record.read_text())
    from_records = loso_ensemble_from_records(name, seeds, args)
    if from_records is not None:
        keep_record(args, f"{name}.loso.{key}", from_records)
        return from_records
    roots = [Path(args.runs) / name / "loso" / f"seed{s}" for s in seeds]
    if not all((r / "crossval.json").exists() for r in roots):
        return None
    if train_config(name, "loso", seeds[0], args).model.feature_norm == "speaker":
        print(f"{name}: no LOSO ensemble row (its models need speaker references)", file=sys.stderr)
        return None
    speakers = [f["fold"] for f in json.loads((roots[0] / "crossval.json").read_text())["folds"]]
    folds = []
    for speaker in speakers:
        out = Path(args.runs) / name / "loso" / key / f"fold-{speaker}"
        if not (out / "best.keras").exists():
            make_ensemble_run([r / f"fold-{speaker}" for r in roots], out)
        folds.append({"fold": speaker, **fold_scores(out)})
    scores = {
        "seeds": seeds,
        "folds": folds,
        "pooled": {t: pooled_uar(folds, t) for t in TASKS},
        "pooled_speaker_norm": {t: pooled_uar([{"tasks": f["speaker_norm"]} for f in folds], t) for t in TASKS},
    }
    keep_record(args, f"{name}.loso.{key}", scores)
    return scores


def loso_ensemble_from_records(name: str, seeds: list[int], args) -> dict | None:
    """The LOSO ensemble of ``name``'s ``seeds`` from their kept records alone, when each record
    holds its folds' per-utterance probabilities (records made since 2026-12-04): per held-out
    speaker, the seeds' probabilities averaged (``kerasser.evaluate.crossval.averaged_fold``, what the
    ensemble model scores) and pooled like ``run_loso_ensemble``'s. So the seeds may be run in
    different sessions, their run folders gone. None when a seed's record is missing or older."""
    from kerasser.evaluate.crossval import averaged_fold, pooled_uar

    files = [Path(args.records) / f"{name}.loso.seed{s}.json" for s in seeds]
    if not all(f.exists() for f in files):
        return None
    runs = [json.loads(f.read_text()) for f in files]
    by_seed = [{f["fold"]: f for f in run["folds"]} for run in runs]
    if any("predictions" not in f for run in runs for f in run["folds"]) or any(b.keys() != by_seed[0].keys()
                                                                                 for b in by_seed):
        return None
    folds = [averaged_fold([b[speaker] for b in by_seed]) for speaker in by_seed[0]]
    for fold in folds:  # the record keeps the scores; the probabilities stay in the seeds' records
        del fold["predictions"]
    return {
        "seeds": seeds,
        "averaged": "the seeds' per-utterance probabilities kept in their records",
        "folds": folds,
        "pooled": {t: pooled_uar(folds, t) for t in TASKS},
        "pooled_speaker_norm": {t: pooled_uar([{"tasks": f["speaker_norm"]} for f in folds], t) for t in TASKS},
    }


def run_loso(name: str, seed: int, args, part: int = 0, parts: int = 1) -> dict | None:
    """LOSO folds ``part``, ``part + parts``, ... of one configuration and seed (all with parts=1)."""
    threads(args)
    from kerasser.evaluate.crossval import crossval

    config = train_config(name, "loso", seed, args)
    result = crossval(config, folds="loso", dev_speakers=2, only=range(part, 10, parts) if parts > 1 else None)
    if parts == 1 and result is not None and "pooled" in result:
        keep_record(args, f"{name}.loso.seed{seed}", result)
    return result


def threads(args) -> None:
    if args.jobs > 1:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
