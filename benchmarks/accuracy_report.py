"""``benchmarks/accuracy.py``'s table: every finished record in ``--records``, as markdown rows
(fixed split, ensembles, speaker-normalised scoring, LOSO, per-speaker folds, the runs)."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import numpy as np
from accuracy_configs import CONFIGS, PEERS, TASKS
from accuracy_runs import run_ensemble, run_loso_ensemble


def collect(args) -> dict:
    """Every finished result in ``--records``: {(name, protocol): [scores per seed]}."""
    found: dict = {}
    for name in CONFIGS:
        for protocol in ("fixed", "loso"):
            for f in sorted(Path(args.records).glob(f"{name}.{protocol}.seed*.json")):
                found.setdefault((name, protocol), []).append(json.loads(f.read_text()))
    return found


def seed_triples(seeds) -> list[list[int]]:
    """The disjoint ensembles of a row's seeds: consecutive triples of the sorted seeds (0,1,2 /
    3,4,5 / ...); seeds left over after the last full triple make no ensemble."""
    seeds = sorted(seeds)
    return [seeds[i:i + 3] for i in range(0, len(seeds) - 2, 3)]


def cell(values) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return ""
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{np.mean(values):.1f} ± {np.std(values, ddof=1):.1f}"


def loso_folds(loso: dict) -> list[str]:
    """Per held-out speaker: every configuration's fold UARs (seed 0), and the default against each
    other configuration, folds paired by speaker (wins and the one-tailed Wilcoxon p)."""
    from kerasser.evaluate.significance import fold_difference

    folds = {name: {f["fold"]: f["tasks"] for f in runs[0]["folds"]} for (name, _), runs in loso.items()
             if len(runs[0]["folds"]) == 10}
    if not folds:
        return []
    speakers = sorted(next(iter(folds.values())))
    lines = ["", "Per held-out speaker, test UAR emotion / arousal / valence / dominance (first seed):", "",
             "| speaker | " + " | ".join(folds) + " |", "|---|" + "---|" * len(folds)]
    for sp in speakers:
        lines.append(f"| {sp} | " + " | ".join(
            " / ".join(f"{folds[n][sp][t]['uar']:.1f}" for t in TASKS) for n in folds) + " |")
    if "default" in folds and len(folds) > 1:
        lines += ["", "The default against each other recipe, folds paired by held-out speaker "
                  "(`kerasser.evaluate.significance.fold_difference`: folds won, mean gain in points, one-tailed "
                  "Wilcoxon signed-rank p over the 10 speakers):", "",
                  "| default vs | " + " | ".join(TASKS) + " |", "|---|" + "---|" * len(TASKS)]
        for other in folds:
            if other == "default":
                continue
            cells = []
            for t in TASKS:
                d = fold_difference([folds["default"][sp][t]["uar"] for sp in speakers],
                                    [folds[other][sp][t]["uar"] for sp in speakers])
                cells.append(f"{d['wins']}/10, {d['mean_difference']:+.1f}, p = {d['p_one_tailed']:.3f}")
            lines.append(f"| {other} | " + " | ".join(cells) + " |")
    return lines


def ensemble_against_seeds(name: str, ensemble: dict, runs: list) -> list[str]:
    """The LOSO ensemble against each of its seeds alone, folds paired by held-out speaker."""
    from kerasser.evaluate.significance import fold_difference

    mine = {f["fold"]: f["tasks"] for f in ensemble["folds"]}
    speakers = sorted(mine)
    title = (f"{name}: the ensemble of seeds {','.join(map(str, ensemble['seeds']))} against each seed alone, "
             "folds paired by held-out speaker (folds won, mean gain in points, one-tailed Wilcoxon p):")
    lines = ["", title, "",
             "| ensemble vs | " + " | ".join(TASKS) + " |", "|---|" + "---|" * len(TASKS)]
    for run in runs:
        if run["config"]["seed"] not in ensemble["seeds"]:
            continue
        alone = {f["fold"]: f["tasks"] for f in run["folds"]}
        cells = []
        for t in TASKS:
            d = fold_difference([mine[sp][t]["uar"] for sp in speakers], [alone[sp][t]["uar"] for sp in speakers])
            cells.append(f"{d['wins']}/10, {d['mean_difference']:+.1f}, p = {d['p_one_tailed']:.3f}")
        lines.append(f"| seed {run['config']['seed']} | " + " | ".join(cells) + " |")
    return lines


def speaker_norm_table(found: dict, ensembles: list) -> list[str]:
    """The fixed-split rows again, scored with each speaker's predictions centred on the speaker's
    mean (runs and ensembles whose records have these figures)."""
    runs_of = {name: [r for r in runs if "speaker_norm" in r] for (name, protocol), runs in found.items()
               if protocol == "fixed"}
    rows = [(name, runs) for name, runs in runs_of.items() if runs]
    ensembles = [(name, e) for name, e in ensembles if "speaker_norm" in e]
    if not rows and not ensembles:
        return []
    lines = [
        "",
        "## EmoDB fixed split, speaker-normalised scoring (transductive)",
        "",
        ("The same runs, each speaker's predictions centred on that speaker's mean log-probability over the "
         "scored clips before the argmax (`kerasser evaluate --speaker-norm`, `kerasser/evaluate/speaker_norm.py`). "
         "Like the openSMILE speaker-norm row it uses the test speakers' own (unlabelled) audio: compare it with "
         "that row, not with the plain ones (the issue's aim 2 excludes it). BAVED: centred per BAVED test "
         "speaker (speaker 50 has 306 of its 418 clips; 9 of its 12 speakers have clips of one level only, "
         "which centring pulls towards the other levels)."),
        "",
        "| system | seeds | emotion | arousal | valence | dominance | BAVED arousal |",
        "|---|---|---|---|---|---|---|",
    ]
    for peer, protocol, figures, baved in PEERS:
        if protocol == "fixed" and "speaker-norm" in peer:
            lines.append(f"| {peer} | | " + " | ".join(f"{v:.1f}" for v in figures) + f" | {baved} |")
    for name, runs in rows:
        seeds = ",".join(str(r["config"]["seed"]) for r in runs)
        norm = [r["speaker_norm"] for r in runs]
        lines.append(f"| **{name}**, speaker-normalised | {seeds} | "
                     + " | ".join(cell([n["test"][t] for n in norm]) for t in TASKS)
                     + f" | {cell([n.get('baved_test') for n in norm])} |")
    for name, e in ensembles:
        n = e["speaker_norm"]
        lines.append(f"| **{name}, ensemble** of seeds {','.join(map(str, e['seeds']))}, speaker-normalised | | "
                     + " | ".join(f"{n['test'][t]:.1f}" for t in TASKS) + f" | {n.get('baved_test', float('nan')):.1f} |")
    return lines


def _fixed_rows(found: dict) -> list[str]:
    """The fixed split's intro, the peers' rows and a row per configuration (mean ± sd over seeds)."""
    lines = [
        "## EmoDB fixed split (PROTOCOL.md: train 6 speakers, dev 12 + 14, test 15 + 16) and BAVED test arousal",
        "",
        "UAR in %, mean ± sd over seeds; the model of each run is the epoch with the best mean dev UAR. "
        "BAVED: the EmoDB-trained model's arousal on BAVED's test split (Arabic, never seen); the openSMILE "
        "peer's BAVED figures in PROTOCOL.md are of SVMs trained on BAVED's own train speakers, and the "
        "EmoDB-trained figure beside them is `benchmarks/opensmile_peer.py`'s (best of its four SVMs). "
        "A row NAME with seeds S is made by `python benchmarks/accuracy.py --configs NAME --seeds S --jobs 2`; "
        "an ensemble row by `--report`, from each 3 of a row's seeds (0-2, 3-5, ...). Recipes are chosen on mean dev UAR, never on test. "
        "Rows measured before the per-run records were kept (the first default `v1` and its ablations, the "
        "second default, now `v3-stride`, and an earlier paper seed 0) are in `accuracy-2026-11-22.md`. `v3` is the "
        "third default (a fixed mel filterbank); its rows were run with the code of commit 6bef6dd, as were the "
        "one-seed ablations of v3 that chose v4. `v4` is the fourth default (a learnable filterbank, one "
        "attention head, no mixup); its rows were rerun with the code of commit bdb86fa (2026-12-01; the data "
        "order has been drawn per seed and epoch since 4fe8d8b); its first rows, code of 6bef6dd as "
        "`default+learnable-fb`, were test 60.7 ± 5.4 / 90.3 ± 5.7 / 73.3 ± 2.4 / 78.8 ± 6.1, mean dev "
        "77.5 ± 3.3, BAVED 45.8 ± 1.5 (records in git at commit 068e01c). Rows of v4's variants measured "
        "before 2026-12-01 were compared with those first rows. The default (the fifth: v4 with 4 heads and "
        "mixup) was measured as `default+heads4+mixup` and v4's variants as `default+X` until 2026-12-01, "
        "when the records were renamed. On 2026-12-02 the fifth default became `v5` and its variants "
        "`v5+X` (until then `default` and `default+X`); the sixth default, v5 with dominance read off the "
        "emotion head, was measured as `default+d-readout-heads` until then.",
        "",
        "| system | seeds | emotion | arousal | valence | dominance | mean dev | BAVED arousal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for peer, protocol, figures, baved in PEERS:
        if protocol == "fixed":
            lines.append(f"| {peer} | | " + " | ".join(f"{v:.1f}" for v in figures) + f" | | {baved or ''} |")
    for name, (_recipe, _overrides, what) in CONFIGS.items():
        runs = found.get((name, "fixed"))
        if not runs:
            continue
        seeds = ",".join(str(r["config"]["seed"]) for r in runs)
        cells = [cell([r["test"][t] for r in runs]) for t in TASKS]
        dev = cell([float(np.mean(list(r["dev"].values()))) for r in runs])
        lines.append(f"| **{name}**: {what} | {seeds} | " + " | ".join(cells)
                     + f" | {dev} | {cell([r.get('baved_test') for r in runs])} |")
    return lines


def _fixed_ensembles(found: dict, args) -> list[tuple[str, dict]]:
    """``(name, scores)`` of the ensembles of each 3 seeds of a fixed-split row (said on stderr
    where a member's run folder is gone)."""
    ensemble_scores = [(name, run_ensemble(name, triple, args))
                       for (name, protocol), runs in found.items() if protocol == "fixed"
                       for triple in seed_triples(r["config"]["seed"] for r in runs)]
    missing = [name for name, e in ensemble_scores  # (models with speaker references were said above)
               if e is None and CONFIGS[name][1].get("feature_norm") != "speaker"]
    if missing:
        print(f"no ensemble row for {', '.join(missing)}: some members' run folders are gone "
              "(retrain them to score it)", file=sys.stderr)
    ensemble_scores = [(name, e) for name, e in ensemble_scores if e is not None]
    return ensemble_scores


def _ensemble_rows(ensemble_scores: list) -> list[str]:
    """A row per ensemble, and each configuration's mean ± sd over its disjoint ensembles."""
    lines = []
    for name, group in itertools.groupby(ensemble_scores, key=lambda item: item[0]):
        mine = [e for _, e in group]
        for e in mine:
            lines.append(f"| **{name}, ensemble** of seeds {','.join(map(str, e['seeds']))} (`kerasser ensemble`; "
                         f"{len(e['seeds'])}x the inference time) | | "
                         + " | ".join(f"{e['test'][t]:.1f}" for t in TASKS)
                         + f" | {float(np.mean(list(e['dev'].values()))):.1f} | {e.get('baved_test', float('nan')):.1f} |")
        if len(mine) > 1:  # the ensemble recipe's own mean ± sd, over ensembles of disjoint seeds
            lines.append(f"| **{name}, ensembles of 3 seeds**, mean ± sd over the {len(mine)} ensembles above "
                         f"(no seed in two) | {len(mine)}x3 | "
                         + " | ".join(cell([e["test"][t] for e in mine]) for t in TASKS)
                         + f" | {cell([float(np.mean(list(e['dev'].values()))) for e in mine])}"
                         + f" | {cell([e.get('baved_test') for e in mine])} |")
    return lines


def _loso_section(found: dict, args) -> list[str]:
    """The LOSO table (with its ensembles and speaker-normalised rows), the per-speaker folds and
    each ensemble against its seeds."""
    lines = []
    loso = [(k, v) for k, v in found.items() if k[1] == "loso"]
    if loso:
        lines += [
            "",
            "## EmoDB leave-one-speaker-out (10 folds; 2 dev speakers drawn from the other 9 per fold)",
            "",
            "Pooled UAR in % (confusion matrices summed over the folds), mean ± sd over seeds; "
            "made by `python benchmarks/accuracy.py --configs NAME --protocol loso --seeds S --jobs 2`.",
            "",
            "| system | seeds | emotion | arousal | valence | dominance |",
            "|---|---|---|---|---|---|",
        ]
        for peer, protocol, figures, _ in PEERS:
            if protocol == "loso":
                lines.append(f"| {peer} | | " + " | ".join(f"{v:.1f}" for v in figures) + " |")
        loso_ensembles = []  # (name, LOSO ensemble scores, its configuration's runs)
        for (name, _), runs in loso:
            seeds = ",".join(str(r["config"]["seed"]) for r in runs)
            lines.append(f"| **{name}**: {CONFIGS[name][2]} | {seeds} | "
                         + " | ".join(cell([r["pooled"][t] for r in runs]) for t in TASKS) + " |")
            normed = [r for r in runs if "pooled_speaker_norm" in r]
            if normed:  # transductive: beside the peer's speaker-norm row, not the plain ones
                lines.append(f"| **{name}**, each test speaker's predictions centred on the speaker's mean "
                             f"(`--speaker-norm`) | {','.join(str(r['config']['seed']) for r in normed)} | "
                             + " | ".join(cell([r["pooled_speaker_norm"][t] for r in normed]) for t in TASKS) + " |")
            for triple in seed_triples(r["config"]["seed"] for r in runs):
                e = run_loso_ensemble(name, triple, args)
                if e is not None:
                    loso_ensembles.append((name, e, runs))
                    seeds = ",".join(map(str, e["seeds"]))
                    lines.append(f"| **{name}, ensemble** of seeds {seeds} per held-out speaker (`kerasser ensemble` "
                                 "of the seeds' fold models) | | " + " | ".join(f"{e['pooled'][t]:.1f}" for t in TASKS) + " |")
                    lines.append(f"| **{name}, ensemble** of seeds {seeds}, speaker-normalised scoring | | "
                                 + " | ".join(f"{e['pooled_speaker_norm'][t]:.1f}" for t in TASKS) + " |")
        lines += loso_folds(dict(loso))
        for name, e, runs in loso_ensembles:
            lines += ensemble_against_seeds(name, e, runs)
    return lines


def _run_list(found: dict) -> list[str]:
    """One line per run: its configuration, seed, best epoch and training time."""
    lines = []
    lines += ["", "Runs (configuration, seed, best epoch of epochs trained, training time):", ""]
    for (name, protocol), runs in found.items():
        for r in runs:
            if protocol == "fixed":
                took = f"{r['train_seconds']} s" if r.get("train_seconds") is not None else "trained before this script ran"
                lines.append(f"- {name} fixed seed {r['config']['seed']}: epoch {r['best_epoch']} of {r['epochs']}, {took}")
            else:
                epochs = ", ".join(f"{f['fold']}: {f['best_epoch']}" for f in r["folds"])
                lines.append(f"- {name} loso seed {r['config']['seed']}: {len(r['folds'])} folds (best epoch per fold {epochs})")
    return lines


def report(args) -> str:
    """The markdown table of every finished record."""
    found = collect(args)
    ensembles = _fixed_ensembles(found, args)
    lines = _fixed_rows(found) + _ensemble_rows(ensembles) + speaker_norm_table(found, ensembles)
    lines += _loso_section(found, args) + _run_list(found)
    return "\n".join(lines)
