"""``export_run``: a run's best model -> one export folder, checked for parity, written atomically.

Export folder layout::

  model.keras            the run's best model (weights and graph, no optimizer state)
  MODEL_CARD.md          what the model does, its data, test UAR and limits (kerasser.model_card)
  saved_model/           SavedModel, signature serving_default (see kerasser.export.saved_model)
  model.tflite           float32 TFLite, TFLITE_BUILTINS only, same signature
  model_int8.tflite      with --quantize int8: full-integer weights and activations, float32 I/O
  model_float16.tflite   with --quantize float16: float16 weights
  model_dynamic.tflite   with --quantize dynamic: int8 weights, float activations
  metadata.json          see kerasser.export.metadata

Everything is built in a temporary folder beside the target (``.NAME.tmp-*``) and moved into
place only when complete; an existing export is replaced in one step (atomic exchange where the
OS has it, else two renames), so a crash never leaves a half-written export.

Parity: every format is reloaded and run on real clips (test-split clips of the run's corpora,
topped up from the other splits to at least ``parity_clips``) and compared with the Keras model.
The SavedModel and the float32 TFLite model must agree within ``PARITY_TOLERANCE`` (max absolute
probability difference) with the same argmax on every clip and task, or the export fails with
``ExportError``. Quantised variants are measured, never failed: max difference, argmax agreement
and the test UAR change against the float32 TFLite model.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import shlex
import shutil
import sys
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from kerasser import audio, model_card
from kerasser.corpora import Utterance, read_corpora, select
from kerasser.evaluation import uar
from kerasser.export import metadata as meta
from kerasser.export import saved_model as saved_model_export
from kerasser.export import tflite as tflite_export
from kerasser.inference import KerasRunner, TFLiteRunner
from kerasser.model import inference_model
from kerasser.runs import RunPaths, load_best_model, load_config, read_state

PARITY_TOLERANCE = 1e-4
PARITY_CLIPS = 8
REPRESENTATIVE_CLIPS = 100
INT8_UAR_AIM = 1.0  # points of test UAR the int8 model should stay within (recorded, not enforced)

Outputs = dict[str, np.ndarray]


class ExportError(RuntimeError):
    """An export that cannot be made or failed its checks; ``str()`` says why in one line."""


@dataclasses.dataclass(frozen=True)
class ExportResult:
    path: Path
    metadata: dict


# --- audio ----------------------------------------------------------------------------------


def _spread(items: Sequence, n: int) -> list:
    """Up to ``n`` items evenly spread over ``items``, in order."""
    if len(items) <= n:
        return list(items)
    return [items[int(i * len(items) / n)] for i in range(n)]


def _load(
    utterances: Sequence[Utterance], write: Callable[[str], None], sample_rate: int
) -> list[tuple[Utterance, np.ndarray]]:
    loaded = []
    for u in utterances:
        try:
            loaded.append((u, audio.load(u.path, sample_rate)))
        except audio.AudioError as error:
            write(f"warning: skipped {error}")
    return loaded


def parity_clips(
    utterances: Sequence[Utterance],
    tasks: Sequence[str],
    n: int,
    write: Callable[[str], None],
    sample_rate: int = audio.SAMPLE_RATE,
) -> list[tuple[Utterance, np.ndarray]]:
    """``n`` decodable clips: test split first (spread over it), then dev, then the rest."""
    chosen: list[tuple[Utterance, np.ndarray]] = []
    used: set[str] = set()
    for split in ("test", "dev", "train", None):
        pool = [u for u in utterances if u.split == split and u.path not in used]
        if split is not None:
            pool = select(pool, split, tasks)
        for u, wave in _load(_spread(pool, n - len(chosen)), write, sample_rate):
            chosen.append((u, wave))
            used.add(u.path)
        if len(chosen) >= n:
            break
    return chosen


# --- parity ---------------------------------------------------------------------------------


def compare(reference: Sequence[Outputs], candidate: Sequence[Outputs], tasks: Sequence[str]) -> dict:
    """Parity figures of ``candidate`` against ``reference`` outputs (one dict per clip)."""
    prob_diff, attention_diff = 0.0, None
    agree = {t: 0 for t in tasks}
    mismatches = []
    for i, (ref, out) in enumerate(zip(reference, candidate, strict=True)):
        if set(ref) != set(out):
            raise ExportError(f"output names differ: expected {sorted(ref)}, got {sorted(out)}")
        for t in tasks:
            prob_diff = max(prob_diff, float(np.max(np.abs(ref[t] - out[t]))))
            if int(np.argmax(ref[t])) == int(np.argmax(out[t])):
                agree[t] += 1
            else:
                mismatches.append({"clip": i, "task": t})
            name = meta.attention_output(t)
            if name in ref:
                same = ref[name].shape == out[name].shape
                d = float(np.max(np.abs(ref[name] - out[name]))) if same else float("inf")
                attention_diff = d if attention_diff is None else max(attention_diff, d)
    n = len(reference)
    return {
        "max_abs_diff": prob_diff,
        "max_abs_diff_attention": attention_diff,
        "argmax_agreement": sum(agree.values()) / (n * len(tasks)),
        "argmax_agreement_per_task": {t: agree[t] / n for t in tasks},
        "argmax_mismatches": mismatches,
    }


def check_float(label: str, figures: dict, tolerance: float, clips: Sequence[Utterance]) -> None:
    """Raise ExportError unless ``figures`` meet the float formats' parity bar."""
    if not figures["max_abs_diff"] <= tolerance:
        raise ExportError(
            f"{label} parity check failed: max absolute probability difference "
            f"{figures['max_abs_diff']:.3g} > {tolerance:g} against the Keras model"
        )
    if figures["argmax_mismatches"]:
        first = figures["argmax_mismatches"][0]
        raise ExportError(
            f"{label} parity check failed: predicted {first['task']} class differs from the Keras model on "
            f"{Path(clips[first['clip']].path).name} ({len(figures['argmax_mismatches'])} clip/task pair(s))"
        )
    attention = figures["max_abs_diff_attention"]
    if attention is not None and not attention <= tolerance:
        raise ExportError(
            f"{label} parity check failed: max absolute attention difference {attention:.3g} > {tolerance:g}"
        )


def score_uar(
    runner: Callable[[np.ndarray], Outputs],
    clips: Sequence[tuple[Utterance, np.ndarray]],
    tasks: Sequence[str],
) -> dict[str, float]:
    """UAR per task of ``runner`` on labelled ``clips``."""
    truth: dict[str, list[int]] = {t: [] for t in tasks}
    predicted: dict[str, list[int]] = {t: [] for t in tasks}
    for u, wave in clips:
        out = runner(wave)
        for t in tasks:
            if t in u.labels:
                truth[t].append(u.labels[t])
                predicted[t].append(int(np.argmax(out[t])))
    return {t: uar(truth[t], predicted[t]) for t in tasks if truth[t]}


# --- atomic replacement ---------------------------------------------------------------------


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False
    where the OS or file system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def replace_dir(new: Path, target: Path) -> None:
    """Move the complete folder ``new`` to ``target``, replacing an existing ``target`` only
    once ``new`` is in place (the old folder is then deleted)."""
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old export
        return
    backup = target.with_name(f".{target.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.rename(target, backup)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(backup, target)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_stale(out: Path) -> list[Path]:
    """Delete what killed exports into ``out`` left beside it (``.NAME.tmp-PID-*`` and
    ``.NAME.old-PID-*`` of processes that no longer run); returns the folders removed."""
    removed = []
    if not out.parent.is_dir():
        return removed
    for path in out.parent.glob(f".{out.name}.*-*-*"):
        kind, _, rest = path.name[len(out.name) + 2 :].partition("-")
        pid = rest.split("-")[0]
        if kind in ("tmp", "old") and pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / meta.METADATA_FILE).is_file():
        raise ExportError(f"{out}: a folder that is not a kerasser export is there; not replacing it")


# --- export ---------------------------------------------------------------------------------


def _check_saved_model(model, folder: Path, clips, reference, tasks, tolerance: float, write) -> dict:
    saved_model_export.export_saved_model(model, folder)
    saved = saved_model_export.load_saved_model(folder)
    figures = compare(reference, [saved(w) for _, w in clips], tasks)
    check_float("SavedModel", figures, tolerance, [u for u, _ in clips])
    figures["passed"] = True
    write(f"  SavedModel: max |diff| {figures['max_abs_diff']:.2g}, argmax agreement 100 %")
    return figures


def _export_tflite(
    frozen, variant: str, path: Path, clips, reference, tasks, tolerance: float, representative, write
) -> tuple[TFLiteRunner, dict, dict, bytes]:
    """Convert one variant, reload it, measure it; returns (runner, parity figures, info, bytes)."""
    write(f"writing TFLite {variant}")
    content = tflite_export.export_tflite(frozen, path, variant, representative)
    custom = tflite_export.custom_ops(content)
    if custom:
        raise ExportError(
            f"{path.name} needs non-builtin ops ({', '.join(custom)}); only TFLITE_BUILTINS may be used"
        )
    runner = TFLiteRunner(path)
    figures = compare(reference, [runner(w) for _, w in clips], tasks)
    info = dict(tflite_export.VARIANT_INFO[variant])
    if variant == "float32":
        check_float("TFLite float32", figures, tolerance, [u for u, _ in clips])
        figures["passed"] = True
    else:
        figures["passed"] = None  # measured, not enforced
    if representative is not None:
        info["representative_clips"] = len(representative)
    agreement = 100 * figures["argmax_agreement"]
    write(f"  {variant}: max |diff| {figures['max_abs_diff']:.2g}, argmax agreement {agreement:.1f} %")
    return runner, figures, info, content


def _other_corpus_scores(run: Path, corpus: tuple[str, str], write) -> dict:
    """The Keras model's test UAR on another corpus (the tasks it shares with the model)."""
    from kerasser.run_evaluation import evaluate_run

    write(f"evaluating on the test split of {corpus[0]} ({corpus[1]})")
    report = evaluate_run(run, "test", corpora=(tuple(corpus),), write_report=False)
    return {"corpus": corpus[0], "path": corpus[1], "split": "test", "files": report["files"],
            "uar": {t: r["uar"] for t, r in report["tasks"].items()}}


def _test_scores(
    run: Path, test_utts, runners: dict[str, TFLiteRunner], parity: dict, tasks, write, sample_rate: int
) -> dict:
    """The Keras model's test UAR (``evaluate_run``); for quantised variants, their test UAR and
    its change against the float32 TFLite model, added to ``parity``."""
    from kerasser.run_evaluation import evaluate_run

    write(f"evaluating on the test split ({len(test_utts)} utterances)")
    report = evaluate_run(run, "test", write_report=False)
    test = {
        "split": "test",
        "backend": "keras",
        "corpora": report["corpora"],
        "files": report["files"],
        "uar": {t: r["uar"] for t, r in report["tasks"].items()},
        "mean_uar": report["mean_uar"],
    }
    quantised = [v for v in runners if v != "float32"]
    if quantised:
        test_clips = _load(test_utts, write, sample_rate)
        baseline = parity["float32"]["test_uar"] = score_uar(runners["float32"], test_clips, tasks)
        for variant in quantised:
            scores = score_uar(runners[variant], test_clips, tasks)
            change = {t: scores[t] - baseline[t] for t in scores}
            entry = parity[variant]
            entry["test_uar"], entry["test_uar_change"] = scores, change
            entry["mean_test_uar_change"] = float(np.mean(list(change.values()))) if change else None
            if variant == "int8":
                entry["aim"] = f"test UAR drop <= {INT8_UAR_AIM:g} point per task"
                entry["within_aim"] = all(d >= -INT8_UAR_AIM for d in change.values())
            changes = ", ".join(f"{t} {d:+.1f}" for t, d in change.items())
            write(f"  {variant}: test UAR change vs float32 {changes}")
    return test


def export_run(
    run_dir: str | os.PathLike,
    out: str | os.PathLike,
    quantize: Sequence[str] = (),
    name: str | None = None,
    *,
    parity_clips_count: int = PARITY_CLIPS,
    representative_clips: int = REPRESENTATIVE_CLIPS,
    tolerance: float = PARITY_TOLERANCE,
    write: Callable[[str], None] | None = None,
    other_corpora: Sequence[tuple[str, str]] = (),
) -> ExportResult:
    """Export the best model of ``run_dir`` to the folder ``out`` (see the module docstring).

    ``quantize``: any of ``int8``, ``float16``, ``dynamic``. ``name`` defaults to the folder's
    name. ``other_corpora`` (``(reader, path)`` pairs): corpora the model was not trained on whose
    test split is also scored (the tasks they share with the model), as ``metadata.json``'s
    ``other_corpora`` and a section of the model card. Progress lines go to ``write`` (default: stderr). Returns the folder and its metadata.
    Raises ExportError (parity failure, unusable target), RunError (bad run folder),
    CorpusError/AudioError (unreadable corpora)."""
    write = write or (lambda line: print(line, file=sys.stderr, flush=True))
    quantize = tuple(dict.fromkeys(quantize))
    for q in quantize:
        if q not in meta.QUANTIZATIONS:
            raise ValueError(f"unknown quantisation {q!r}; expected any of {', '.join(meta.QUANTIZATIONS)}")
    out = Path(out)
    name = name or out.name
    _check_target(out)
    run = Path(run_dir)
    config = load_config(run)
    paths = RunPaths(run)
    model = inference_model(load_best_model(run))  # without training-only heads
    tasks = config.model.tasks

    utterances = read_corpora(config.corpora, config.speaker_splits)
    clips = parity_clips(utterances, tasks, parity_clips_count, write, config.model.audio.sample_rate)
    if not clips:
        raise ExportError("no decodable clip in the run's corpora to check parity on")
    if len(clips) < parity_clips_count:
        write(f"warning: only {len(clips)} clip(s) to check parity on")
    test_utts = select(utterances, "test", tasks)

    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(out)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()  # like mkdtemp, but with the usual permissions (mkdtemp's are 0700)
    try:
        model.save(tmp / meta.KERAS_FILE)  # loaded uncompiled: no optimizer state to ship
        keras_runner = KerasRunner(tmp / meta.KERAS_FILE)  # the saved file, reloaded
        reference = [keras_runner(w) for _, w in clips]
        splits: dict[str, int] = {}
        for u, _ in clips:
            splits[str(u.split)] = splits.get(str(u.split), 0) + 1
        parity: dict = {
            "tolerance": tolerance,
            "reference": "keras (model.keras)",
            "clips": {"count": len(clips), "splits": splits, "files": [Path(u.path).name for u, _ in clips]},
        }

        write("writing SavedModel")
        parity["saved_model"] = _check_saved_model(
            model, tmp / meta.SAVED_MODEL_DIR, clips, reference, tasks, tolerance, write
        )

        frozen = tflite_export.freeze(model)
        tflite_info: dict = {"variants": {}}
        runners: dict[str, TFLiteRunner] = {}
        for variant in ("float32", *quantize):
            representative = None
            if variant == "int8":
                train_utts = _spread(select(utterances, config.train_splits, tasks), representative_clips)
                representative = [w for _, w in _load(train_utts, write, config.model.audio.sample_rate)]
                if not representative:
                    raise ExportError("int8 quantisation needs training audio, and none could be read")
            runner, figures, info, content = _export_tflite(
                frozen, variant, tmp / meta.TFLITE_FILES[variant], clips, reference, tasks, tolerance,
                representative, write,
            )
            runners[variant], parity[variant] = runner, figures
            tflite_info["variants"][variant] = info
            if variant == "float32":
                tflite_info["output_order"] = runner.raw_output_order()
                tflite_info["operators"] = tflite_export.operator_names(content)

        test, test_skipped = None, None
        if test_utts:
            test = _test_scores(run, test_utts, runners, parity, tasks, write, config.model.audio.sample_rate)
        else:
            test_skipped = "the run's corpora have no test-split utterances labelled for the model's tasks"
            write(f"note: {test_skipped}; no test UAR")
        runners.clear()
        others = [_other_corpus_scores(run, corpus, write) for corpus in other_corpora]

        files = {role: meta.file_entry(tmp, rel) for role, rel in
                 (("keras", meta.KERAS_FILE), ("saved_model", meta.SAVED_MODEL_DIR))}
        for variant in ("float32", *quantize):
            files[meta.tflite_role(variant)] = meta.file_entry(tmp, meta.TFLITE_FILES[variant])
        files["metadata"] = {"path": meta.METADATA_FILE}
        document = meta.build_metadata(
            name=name,
            config=config,
            state=read_state(paths),
            run_dir=str(run.resolve()),
            files=files,
            tflite=tflite_info,
            test=test,
            test_skipped=test_skipped,
            parity=parity,
        )
        document["other_corpora"] = others
        meta.write_metadata(tmp, document)
        command = shlex.join(
            ["kerasser", "export", str(run_dir), "--out", str(out), "--name", name]
            + [a for q in quantize for a in ("--quantize", q)]
            + [a for c, path in other_corpora for a in ("--corpus", c, "--data", path)]
        )
        (tmp / "MODEL_CARD.md").write_text(model_card.render(meta.json_safe(document), config, command))
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write(f"exported {name} to {out}")
    return ExportResult(out, meta.json_safe(document))
