"""``export_run``: a run's best model -> one export folder, checked for parity, written atomically.

The folder's layout and serving contract: ``kerasser.contract``. It is built beside the target
and swapped in when complete (``kerasser.export.folder``), so a crash never leaves a
half-written export.

Parity: every format is reloaded and run on real clips (test-split clips of the run's corpora,
topped up from the other splits to at least ``parity_clips``) and compared with the Keras model.
The SavedModel and the float32 TFLite model must agree within ``PARITY_TOLERANCE`` (max absolute
probability difference) with the same argmax on every clip and task, or the export fails with
``ExportError``. Quantised variants are measured, never failed: max difference, argmax agreement
and the test UAR change against the float32 TFLite model. A speaker-normalising model's clips
get their speakers' references over the checked clips, and its ``speaker_statistics`` (SavedModel
signature and ``model_statistics.tflite``) must give each clip's mean log mel within the same
tolerance.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shlex
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from kerasser import contract
from kerasser.data.corpora import read_corpora, select
from kerasser.errors import ExportError, SettingsError
from kerasser.export import metadata as meta
from kerasser.export import model_card, streaming
from kerasser.export import saved_model as saved_model_export
from kerasser.export import tflite as tflite_export
from kerasser.export.clips import clip_references, clip_texts, load_clips, parity_clips, spread
from kerasser.export.folder import check_target, replace_dir, staging_dir
from kerasser.export.parity import check_float, compare, run_clips, score_uar
from kerasser.model.network import inference_model
from kerasser.progress import writer
from kerasser.serve.inference import KerasRunner, TFLiteRunner
from kerasser.text_input import input_vocabulary
from kerasser.training.runs import RunPaths, load_best_model, load_config, read_state

PARITY_TOLERANCE = 1e-4
PARITY_CLIPS = 8
REPRESENTATIVE_CLIPS = 400  # int8 calibration clips: all of EmoDB's train + dev (fewer calibrated worse)
INT8_UAR_AIM = 1.0  # points of test UAR the int8 model should stay within (recorded, not enforced)


@dataclasses.dataclass(frozen=True)
class ExportResult:
    path: Path
    metadata: dict


# --- export ---------------------------------------------------------------------------------


def _check_saved_model(model, folder: Path, clips, refs, reference, tasks, tolerance: float, write, texts) -> dict:
    saved_model_export.export_saved_model(model, folder)
    saved = saved_model_export.load_saved_model(folder)
    figures = compare(reference, run_clips(saved, [w for _, w in clips], refs, texts), tasks)
    check_float("SavedModel", figures, tolerance, [u for u, _ in clips])
    figures["passed"] = True
    write(f"  SavedModel: max |diff| {figures['max_abs_diff']:.2g}, argmax agreement 100 %")
    return figures


def _check_statistics(label: str, statistics, keras_runner, clips, tolerance: float) -> dict:
    """A speaker-normalising model's exported statistics against the Keras model's: the clip
    means (log_mel_sum / frames) within ``tolerance`` and the same frame counts, or ExportError."""
    diff = 0.0
    for u, wave in clips:
        want, got = keras_runner.statistics(wave), statistics(wave)
        if float(got[contract.FRAMES]) != float(want[contract.FRAMES]):
            raise ExportError(f"{label} parity check failed: {got[contract.FRAMES]} frames of "
                              f"{Path(u.path).name}, the Keras model counts {want[contract.FRAMES]}")
        frames = max(float(want[contract.FRAMES]), 1.0)
        diff = max(diff, float(np.max(np.abs(got[contract.LOG_MEL_SUM] - want[contract.LOG_MEL_SUM]))) / frames)
    if not diff <= tolerance:
        raise ExportError(f"{label} parity check failed: max absolute difference of a clip's mean log mel "
                          f"{diff:.3g} > {tolerance:g} against the Keras model")
    return {"max_abs_diff_mean_log_mel": diff, "passed": True}


def _export_tflite(
    frozen, variant: str, path: Path, clips, refs, reference, tasks, tolerance: float, representative, write, texts
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
    figures = compare(reference, run_clips(runner, [w for _, w in clips], refs, texts), tasks)
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


def read_held_out(files: Sequence[str | os.PathLike]) -> dict:
    """The leave-one-corpus-out summary of ``files`` (crossval.json of ``crossval --folds corpus``)
    with the files named; ExportError naming a file that is unreadable or not such a report."""
    from kerasser.evaluate.corpus_scores import held_out_summary

    reports = []
    for f in files:
        try:
            report = json.loads(Path(f).read_text())
            held_out_summary([report])
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError, TypeError, AttributeError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e) or type(e).__name__
            raise ExportError(f"cannot be used as leave-one-corpus-out figures: {reason}", path=f) from None
        reports.append(report)
    return {**held_out_summary(reports), "files": [str(f) for f in files]}


def _other_corpus_scores(run: Path, corpus: tuple[str, str], write) -> dict:
    """The Keras model's test UAR on another corpus (the tasks it shares with the model)."""
    from kerasser.evaluate.run import evaluate_run

    write(f"evaluating on the test split of {corpus[0]} ({corpus[1]})")
    report = evaluate_run(run, "test", corpora=(tuple(corpus),), write_report=False)
    return {"corpus": corpus[0], "path": corpus[1], "split": "test", "files": report["files"],
            "uar": {t: r["uar"] for t, r in report["tasks"].items()}}


def _test_scores(
    run: Path, test_utts, runners: dict[str, TFLiteRunner], parity: dict, tasks, write, sample_rate: int,
    statistics=None, vocabulary=None,
) -> dict:
    """The Keras model's test UAR (``evaluate_run``); for quantised variants, their test UAR and
    its change against the float32 TFLite model, added to ``parity`` (a speaker-normalising
    model's clips get their speakers' references over the test clips, as ``evaluate_run`` gives)."""
    from kerasser.evaluate.run import evaluate_run

    write(f"evaluating on the test split ({len(test_utts)} utterances)")
    report = evaluate_run(run, "test", write_report=False)
    test = {
        "split": "test",
        "backend": "keras",
        "corpora": report["corpora"],
        "files": report["files"],
        "uar": {t: r["uar"] for t, r in report["tasks"].items()},
        "mean_uar": report["mean_uar"],
        "per_corpus": report["per_corpus"],  # each corpus apart: own classes, 4-class common (corpus_scores)
    }
    quantised = [v for v in runners if v != "float32"]
    if quantised:
        test_clips = load_clips(test_utts, write, sample_rate)
        refs, texts = clip_references(test_clips, statistics), clip_texts(test_clips, vocabulary)
        heads = {t: load_config(run).model.classes(t) for t in tasks}
        baseline = parity["float32"]["test_uar"] = score_uar(runners["float32"], test_clips, tasks, refs, heads, texts)
        for variant in quantised:
            scores = score_uar(runners[variant], test_clips, tasks, refs, heads, texts)
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
    with_transcript: bool = False,
    held_out: Sequence[str | os.PathLike] = (),
) -> ExportResult:
    """Export the best model of ``run_dir`` to the folder ``out`` (see the module docstring).

    ``quantize``: any of ``int8``, ``float16``, ``dynamic``. ``name`` defaults to the folder's
    name. ``other_corpora`` (``(reader, path)`` pairs): corpora the model was not trained on whose
    test split is also scored (the tasks they share with the model), as ``metadata.json``'s
    ``other_corpora`` and a section of the model card. ``with_transcript``: also serve the CTC
    head's ``transcript`` output (a run trained with a CTC weight). ``held_out``: crossval.json
    files of ``kerasser crossval --folds corpus`` runs of the model's recipe (e.g. one per seed),
    summarised as ``metadata.json``'s ``cross_corpus`` and the card's leave-one-corpus-out table
    (kerasser.evaluate.corpus_scores.held_out_summary). Progress lines go to ``write``
    (default: stderr). Returns the folder and its metadata.
    Raises ExportError (parity failure, unusable target), RunError (bad run folder),
    CorpusError/AudioError (unreadable corpora)."""
    write = writer(write)
    quantize = _checked_quantize(quantize)
    out = Path(out)
    name = name or out.name
    check_target(out)
    cross_corpus = read_held_out(held_out) if held_out else None  # a bad file is said before any work
    run = Path(run_dir)
    config = load_config(run)
    if with_transcript and not config.model.ctc_weight:
        raise ExportError("has no CTC head to serve a transcript from (train with --ctc-weight)", path=run)
    model = inference_model(load_best_model(run), transcript=with_transcript)  # without training-only heads
    tasks = config.model.tasks
    utterances = read_corpora(config.corpora, config.speaker_splits)
    clips = _parity_clips(utterances, tasks, parity_clips_count, config.model.audio.sample_rate, write)
    test_utts = select(utterances, "test", tasks)

    tmp = staging_dir(out)
    try:
        model.save(tmp / contract.KERAS_FILE)  # loaded uncompiled: no optimizer state to ship
        vocabulary = input_vocabulary(config.model)  # a text model's characters (None: an audio model)
        checks = _Checks.of(KerasRunner(tmp / contract.KERAS_FILE), clips, tasks, tolerance, vocabulary)  # the saved file
        parity = checks.parity_header()
        parity.update(_export_saved_model(model, tmp, checks, write))
        representative = functools.partial(_representative, config, utterances, representative_clips, checks.statistics,
                                           write, vocabulary)
        runners, tflite_info = _export_tflite_variants(model, tmp, quantize, checks, representative, parity, write)
        stream, step_parity = streaming.export_checked(model, config.model, tmp, checks.clips, tolerance, write)
        parity.update(step_parity)
        test, test_skipped = None, None
        if test_utts:
            test = _test_scores(run, test_utts, runners, parity, tasks, write, config.model.audio.sample_rate,
                                checks.statistics, vocabulary)
        else:
            test_skipped = "the run's corpora have no test-split utterances labelled for the model's tasks"
            write(f"note: {test_skipped}; no test UAR")
        runners.clear()
        others = [_other_corpus_scores(run, corpus, write) for corpus in other_corpora]
        document = meta.build_metadata(
            name=name,
            config=config,
            state=read_state(RunPaths(run)),
            run_dir=str(run.resolve()),
            files=_file_entries(tmp, quantize, checks.statistics is not None, stream is not None),
            tflite=tflite_info,
            test=test,
            test_skipped=test_skipped,
            parity=parity,
            transcript=with_transcript,
        )
        document["other_corpora"], document[contract.STREAM_KEY] = others, stream
        if cross_corpus is not None:
            document["cross_corpus"] = cross_corpus
        meta.write_metadata(tmp, document)
        command = _export_command(run_dir, out, name, quantize, other_corpora, with_transcript, held_out)
        (tmp / contract.MODEL_CARD_FILE).write_text(model_card.render(meta.json_safe(document), config, command))
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write(f"exported {name} to {out}")
    return ExportResult(out, meta.json_safe(document))


def _checked_quantize(quantize: Sequence[str]) -> tuple[str, ...]:
    quantize = tuple(dict.fromkeys(quantize))
    for q in quantize:
        if q not in contract.QUANTIZATIONS:
            raise SettingsError(f"unknown quantisation {q!r}; expected any of {', '.join(contract.QUANTIZATIONS)}")
    return quantize


def _parity_clips(utterances, tasks, count: int, sample_rate: int, write) -> list:
    """The clips every exported file is checked on (an error without one)."""
    clips = parity_clips(utterances, tasks, count, write, sample_rate)
    if not clips:
        raise ExportError("no decodable clip in the run's corpora to check parity on")
    if len(clips) < count:
        write(f"warning: only {len(clips)} clip(s) to check parity on")
    return clips


@dataclasses.dataclass
class _Checks:
    """What each exported file is checked against: the saved Keras model (reloaded), the parity
    clips, their speaker references and texts (None without), and the Keras outputs on them."""

    keras_runner: KerasRunner
    statistics: object
    clips: list
    refs: list | None
    texts: list | None
    reference: list
    tasks: tuple[str, ...]
    tolerance: float

    @classmethod
    def of(cls, keras_runner: KerasRunner, clips, tasks, tolerance: float, vocabulary=None) -> _Checks:
        statistics = keras_runner.statistics if keras_runner.reference_features is not None else None
        refs, texts = clip_references(clips, statistics), clip_texts(clips, vocabulary)
        reference = run_clips(keras_runner, [w for _, w in clips], refs, texts)
        return cls(keras_runner, statistics, clips, refs, texts, reference, tuple(tasks), tolerance)

    def parity_header(self) -> dict:
        splits: dict[str, int] = {}
        for u, _ in self.clips:
            splits[str(u.split)] = splits.get(str(u.split), 0) + 1
        return {
            "tolerance": self.tolerance,
            "reference": "keras (model.keras)",
            "clips": {"count": len(self.clips), "splits": splits, "files": [Path(u.path).name for u, _ in self.clips]},
        }


def _export_saved_model(model, tmp: Path, checks: _Checks, write) -> dict:
    """The SavedModel (and, for speaker-normalising models, the TFLite speaker statistics), each
    checked: their ``parity`` entries."""
    c = checks
    write("writing SavedModel")
    parity = {"saved_model": _check_saved_model(
        model, tmp / contract.SAVED_MODEL_DIR, c.clips, c.refs, c.reference, c.tasks, c.tolerance, write, c.texts)}
    if c.statistics is None:
        return parity
    saved_stats = saved_model_export.load_saved_model(tmp / contract.SAVED_MODEL_DIR, contract.STATISTICS_SIGNATURE)
    parity["saved_model"]["statistics"] = _check_statistics(
        "SavedModel speaker_statistics", saved_stats, c.keras_runner, c.clips, c.tolerance)
    write("writing TFLite speaker statistics")
    content = tflite_export.export_float32(tflite_export.freeze_statistics(model), tmp / contract.STATISTICS_FILE)
    if tflite_export.custom_ops(content):
        raise ExportError(f"{contract.STATISTICS_FILE} needs non-builtin ops; only TFLITE_BUILTINS may be used")
    parity["statistics"] = _check_statistics(
        "TFLite speaker statistics", TFLiteRunner(tmp / contract.STATISTICS_FILE), c.keras_runner, c.clips, c.tolerance)
    write(f"  statistics: max |diff| of a clip's mean log mel {parity['statistics']['max_abs_diff_mean_log_mel']:.2g}")
    return parity


def _representative(config, utterances, count: int, statistics, write, vocabulary=None) -> list:
    """int8 calibration inputs: training clips spread over the training set (with references or texts)."""
    train_utts = spread(select(utterances, config.train_splits, config.model.tasks), count)
    train_clips = load_clips(train_utts, write, config.model.audio.sample_rate)
    representative = [w if r is None else (w, r) for (_, w), r in
                      zip(train_clips, clip_references(train_clips, statistics))]
    if vocabulary is not None:
        representative = [{"waveform": w, "text": t} for (_, w), t in zip(train_clips, clip_texts(train_clips, vocabulary))]
    if not representative:
        raise ExportError("int8 quantisation needs training audio, and none could be read")
    return representative


def _export_tflite_variants(model, tmp: Path, quantize, checks: _Checks, representative, parity: dict, write):
    """Every TFLite variant (float32 and ``quantize``), each checked into ``parity``: ``(runners,
    the metadata's tflite entry)``. ``representative()``: the int8 calibration inputs."""
    c = checks
    frozen = tflite_export.freeze(model)
    tflite_info: dict = {"variants": {}}
    runners: dict[str, TFLiteRunner] = {}
    for variant in ("float32", *quantize):
        runner, figures, info, content = _export_tflite(
            frozen, variant, tmp / contract.TFLITE_FILES[variant], c.clips, c.refs, c.reference, c.tasks,
            c.tolerance, representative() if variant == "int8" else None, write, c.texts,
        )
        runners[variant], parity[variant] = runner, figures
        tflite_info["variants"][variant] = info
        if variant == "float32":
            tflite_info["output_order"] = runner.raw_output_order()
            tflite_info["operators"] = tflite_export.operator_names(content)
    return runners, tflite_info


def _file_entries(tmp: Path, quantize, statistics: bool, step: bool = False) -> dict:
    """The metadata's ``files``: each written file's path, size and digest, by role."""
    files = {role: meta.file_entry(tmp, rel) for role, rel in
             (("keras", contract.KERAS_FILE), ("saved_model", contract.SAVED_MODEL_DIR))}
    for variant in ("float32", *quantize):
        files[contract.tflite_role(variant)] = meta.file_entry(tmp, contract.TFLITE_FILES[variant])
    if statistics:
        files[contract.STATISTICS_ROLE] = meta.file_entry(tmp, contract.STATISTICS_FILE)
    if step:
        files[contract.STEP_ROLE] = meta.file_entry(tmp, contract.STEP_FILE)
    files["metadata"] = {"path": contract.METADATA_FILE}
    return files


def _export_command(run_dir, out, name: str, quantize, other_corpora, with_transcript: bool, held_out) -> str:
    """The ``kerasser export`` command line that makes this folder (the model card's)."""
    return shlex.join(
        ["kerasser", "export", str(run_dir), "--out", str(out), "--name", name]
        + [a for q in quantize for a in ("--quantize", q)]
        + [a for c, path in other_corpora for a in ("--corpus", c, "--data", path)]
        + (["--with-transcript"] if with_transcript else [])
        + [a for f in held_out for a in ("--held-out", str(f))]
    )
