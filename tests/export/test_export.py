"""kerasser export: files, signatures, builtins-only TFLite, parity with Keras on real EmoDB clips,
metadata, atomic replacement, the CLI, and kerasser.serve.inference (tiny model trained 1 epoch)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from export_helpers import QUANTIZE, TINY, keras_outputs  # tests/export/export_helpers.py

from kerasser.config import AudioConfig, ModelConfig
from kerasser.tasks import TASKS

TOLERANCE = 1e-4
AUDIO = AudioConfig()

pytestmark = [
    pytest.mark.slow,
    # Keras warns when attention pools a single frame (eager input of <= 640 samples): expected here.
    pytest.mark.filterwarnings("ignore:You are using a softmax over axis:UserWarning"),
]


def head_classes(export) -> tuple[str, ...]:
    """The emotion head's classes of the tiny run: the ones its manifest labels (kerasser.data.label_space)."""
    from kerasser.training.runs import load_config

    return load_config(export[0]).model.emotion_classes


@pytest.fixture(scope="session")
def test_clips(emodb_small) -> list[np.ndarray]:
    """The manifest's test-split audio plus a few short cuts (1 sample, one frame, two frames)."""
    from kerasser.data import audio
    from kerasser.data.corpora import read_manifest

    waves = [audio.load(u.path) for u in read_manifest(emodb_small) if u.split == "test"]
    return waves + [waves[0][:1], waves[0][:640], waves[0][:641]]


@pytest.fixture(scope="session")
def references(emodb_tiny_export, test_clips) -> list[dict[str, np.ndarray]]:
    return keras_outputs(emodb_tiny_export[0], test_clips)


def expected_outputs() -> list[str]:
    return sorted([*TINY.tasks, *(f"{t}_attention" for t in TINY.tasks)])


def assert_parity(reference: dict, out: dict, tolerance: float = TOLERANCE) -> None:
    assert sorted(out) == sorted(reference)
    for name, ref in reference.items():
        assert out[name].shape == ref.shape, name
        assert np.max(np.abs(out[name] - ref)) <= tolerance, name
        if not name.endswith("_attention"):
            assert np.argmax(out[name]) == np.argmax(ref), name


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --- files and signatures -------------------------------------------------------------------


def test_export_writes_every_file(emodb_tiny_export):
    _, out = emodb_tiny_export
    for name in ("model.keras", "metadata.json", "model.tflite", "model_int8.tflite",
                 "model_float16.tflite", "model_dynamic.tflite", "saved_model/saved_model.pb"):
        assert (out / name).is_file(), name
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_saved_model_signature(emodb_tiny_export):
    import tensorflow as tf

    signature = tf.saved_model.load(str(emodb_tiny_export[1] / "saved_model")).signatures["serving_default"]
    _, inputs = signature.structured_input_signature
    assert list(inputs) == ["waveform"]
    assert inputs["waveform"].shape.as_list() == [1, None] and inputs["waveform"].dtype == tf.float32
    outputs = signature.structured_outputs
    assert sorted(outputs) == expected_outputs()
    assert outputs["arousal"].shape.as_list() == [1, 3]
    assert outputs["emotion"].shape.as_list() == [1, len(head_classes(emodb_tiny_export))]
    assert outputs["arousal_attention"].shape.as_list() == [1, None]


@pytest.mark.parametrize("variant", ["float32", *QUANTIZE])
def test_tflite_signature_and_builtin_ops_only(emodb_tiny_export, variant):
    from ai_edge_litert.interpreter import Interpreter

    from kerasser.contract import TFLITE_FILES
    from kerasser.export.tflite import custom_ops, operator_names

    path = emodb_tiny_export[1] / TFLITE_FILES[variant]
    content = path.read_bytes()
    ops = operator_names(content)  # every subgraph, the GRU's while-loop body included
    assert "WHILE" in ops and "CONV_2D" in ops
    assert not [op for op in ops if op.startswith("Flex")], ops
    assert custom_ops(content) == []
    interpreter = Interpreter(model_path=str(path))
    assert not [d["op_name"] for d in interpreter._get_ops_details() if d["op_name"].startswith("Flex")]
    signature = interpreter.get_signature_list()["serving_default"]
    assert signature["inputs"] == ["waveform"]
    assert sorted(signature["outputs"]) == expected_outputs()
    runner = interpreter.get_signature_runner("serving_default")
    (waveform,) = runner.get_input_details().values()
    assert list(waveform["shape_signature"]) == [1, -1] and waveform["dtype"] == np.float32
    out = runner(waveform=np.zeros((1, 4000), np.float32))  # batch 1, any length
    assert out["emotion"].shape == (1, len(head_classes(emodb_tiny_export)))
    assert out["arousal_attention"].shape == (1, AUDIO.num_frames(4000))


# --- parity ---------------------------------------------------------------------------------


def test_tflite_float32_matches_keras(emodb_tiny_export, test_clips, references):
    from kerasser.serve.inference import load_exported

    model = load_exported(emodb_tiny_export[1])  # one interpreter, resized per call
    for w, reference in zip(test_clips, references):
        out = model.predict(w)
        assert_parity(reference, out)
        assert out["arousal_attention"].shape == (AUDIO.num_frames(len(w)),)
        assert out["arousal"].dtype == np.float32


def test_saved_model_matches_keras(emodb_tiny_export, test_clips, references):
    from kerasser.export.saved_model import load_saved_model

    run = load_saved_model(emodb_tiny_export[1] / "saved_model")
    for w, reference in zip(test_clips, references):
        assert_parity(reference, run(w))


def test_keras_backend_and_quantised_variants_load(emodb_tiny_export, test_clips, references):
    from kerasser.serve.inference import load_exported

    keras_model = load_exported(emodb_tiny_export[1], backend="keras")
    for i in (0, -3, -1):  # a whole clip, 1 sample, 641 samples
        assert_parity(references[i], keras_model.predict(test_clips[i]), tolerance=1e-6)
    for variant in QUANTIZE:
        out = load_exported(emodb_tiny_export[1], variant=variant).predict(test_clips[0])
        assert sorted(out) == expected_outputs()
        assert abs(float(out["emotion"].sum()) - 1.0) < 0.02
        assert np.max(np.abs(out["emotion"] - references[0]["emotion"])) < 0.1


def test_exported_model_api(emodb_tiny_export):
    from kerasser.serve.inference import ExportedModel, load_exported

    model = load_exported(emodb_tiny_export[1])
    assert isinstance(model, ExportedModel)
    assert model.sample_rate == 16000
    assert model.tasks == [("arousal", TASKS["arousal"].classes), ("emotion", head_classes(emodb_tiny_export))]
    assert set(model.tasks[1][1]) < set(TASKS["emotion"].classes)  # the classes the tiny manifest labels
    assert model.metadata["name"] == "tiny"
    with pytest.raises(ValueError, match="1-D"):
        model.predict(np.zeros((1, 100), np.float32))
    with pytest.raises(ValueError, match="at least one sample"):
        model.predict(np.zeros(0, np.float32))
    with pytest.raises(ValueError, match="backend"):
        load_exported(emodb_tiny_export[1], backend="onnx")
    with pytest.raises(ValueError, match="float32 model only"):
        load_exported(emodb_tiny_export[1], backend="keras", variant="int8")


# --- metadata -------------------------------------------------------------------------------


def test_metadata(emodb_tiny_export):
    import kerasser

    run, out = emodb_tiny_export
    md = json.loads((out / "metadata.json").read_text())
    assert md["format_version"] == 1 and md["name"] == "tiny"
    assert md["kerasser_version"] == kerasser.__version__
    assert md["created"].endswith("+00:00")
    assert (md["sample_rate"], md["frame_length"], md["frame_step"]) == (16000, 640, 160)
    assert md["input"]["name"] == "waveform" and md["input"]["shape"] == [1, None]
    assert md["input"]["dtype"] == "float32" and md["signature"] == "serving_default"
    assert md["attention"] is True
    assert [(t["name"], t["classes"], t["output"], t["attention_output"]) for t in md["tasks"]] == [
        ("arousal", ["low", "mid", "high"], "arousal", "arousal_attention"),
        ("emotion", list(head_classes(emodb_tiny_export)), "emotion", "emotion_attention"),
    ]
    assert [o["name"] for o in md["outputs"]] == expected_outputs()
    assert sorted(md["tflite"]["output_order"]) == expected_outputs()
    assert set(md["files"]) == {"keras", "saved_model", "metadata", "tflite_float32", "tflite_int8",
                                "tflite_float16", "tflite_dynamic"}
    for role, entry in md["files"].items():
        assert (out / entry["path"]).exists(), role
    assert md["files"]["tflite_float32"]["bytes"] == (out / "model.tflite").stat().st_size
    for role in ("keras", "tflite_float32", "tflite_int8", "tflite_float16", "tflite_dynamic"):  # load checks
        entry = md["files"][role]
        assert entry["sha256"] == hashlib.sha256((out / entry["path"]).read_bytes()).hexdigest(), role
    saved = out / "saved_model"
    listed = {p.relative_to(saved).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
              for p in saved.rglob("*") if p.is_file()}
    assert md["files"]["saved_model"]["sha256_files"] == listed and "saved_model.pb" in listed
    training = md["training"]
    assert training["corpora"][0][0] == "manifest" and training["train_splits"] == ["train"]
    assert training["dev_split"] == "dev" and training["epochs"] == 1 and training["seed"] == 0
    assert training["epochs_done"] == 1 and training["run"] == str(run.resolve())
    assert md["model"]["gru_units"] == 8
    # test UAR of the Keras model on the manifest's 6 test clips
    assert md["test_skipped"] is None
    assert md["test"]["files"] == 6 and set(md["test"]["uar"]) == {"arousal", "emotion"}
    assert all(0 <= u <= 100 for u in md["test"]["uar"].values())
    parity = md["parity"]
    assert parity["clips"]["count"] >= 8 and parity["clips"]["splits"]["test"] == 6
    assert parity["tolerance"] == TOLERANCE
    for fmt in ("saved_model", "float32"):
        assert parity[fmt]["passed"] is True
        assert parity[fmt]["max_abs_diff"] <= TOLERANCE and parity[fmt]["argmax_agreement"] == 1.0
    # float32 TFLite and the Keras evaluation score the same clips the same way
    assert parity["float32"]["test_uar"] == pytest.approx(md["test"]["uar"])
    for variant in QUANTIZE:
        p = parity[variant]
        assert p["passed"] is None and 0 <= p["argmax_agreement"] <= 1 and p["max_abs_diff"] >= 0
        assert set(p["test_uar_change"]) == {"arousal", "emotion"}
        for t, change in p["test_uar_change"].items():
            assert change == pytest.approx(p["test_uar"][t] - parity["float32"]["test_uar"][t])
    assert isinstance(parity["int8"]["within_aim"], bool)
    assert md["tflite"]["variants"]["int8"]["ops"] == "TFLITE_BUILTINS_INT8 + TFLITE_BUILTINS"
    assert md["tflite"]["variants"]["int8"]["representative_clips"] == 12  # the manifest's train split


def test_other_corpora_scored_into_metadata_and_card(emodb_tiny_export):
    md = json.loads((emodb_tiny_export[1] / "metadata.json").read_text())
    (other,) = md["other_corpora"]
    assert other["corpus"] == "manifest" and other["split"] == "test" and other["files"] == 6
    assert set(other["uar"]) == {"arousal", "emotion"}
    for task, value in other["uar"].items():
        assert value == pytest.approx(md["test"]["uar"][task])  # the same clips as the run's own test split
    card = (emodb_tiny_export[1] / "MODEL_CARD.md").read_text()
    assert "not trained on" in card and "- manifest (6 files): UAR arousal" in card


def test_export_without_test_split_skips_test_uar(emodb_tiny_export, emodb_small, manifest_writer, tmp_path):
    from kerasser.data.corpora import read_manifest
    from kerasser.export.exporter import export_run

    run = tmp_path / "run"  # a fake run folder: the tiny model, a corpus with no test split, no state.json
    run.mkdir()
    shutil.copy(emodb_tiny_export[0] / "best.keras", run / "best.keras")
    kept = [u for u in read_manifest(emodb_small) if u.split != "test"]
    manifest = manifest_writer(tmp_path / "no_test.csv", kept)
    config = json.loads((emodb_tiny_export[0] / "config.json").read_text())
    config["corpora"] = [["manifest", str(manifest)]]
    (run / "config.json").write_text(json.dumps(config))

    out = tmp_path / "exported" / "no-test"
    held_out = []  # leave-one-corpus-out figures of the recipe (crossval --folds corpus), two seeds
    for seed, common in ((0, 40.0), (1, 44.0)):
        held_out.append(tmp_path / f"crossval{seed}.json")
        held_out[-1].write_text(json.dumps({"held_out": {"emodb": {"files": 535, "emotion_common": common}}}))
    md = export_run(run, out, quantize=("dynamic",), write=lambda line: None, held_out=held_out).metadata
    assert md["cross_corpus"]["runs"] == 2 and md["cross_corpus"]["held_out"]["emodb"]["emotion_common"]["mean"] == 42
    card = (out / "MODEL_CARD.md").read_text()
    assert "| emodb | 535 | 42.0 ± 2.0 |" in card and f"--held-out {held_out[1]}" in card
    assert md["test"] is None and "no test-split" in md["test_skipped"]
    assert md["parity"]["clips"]["count"] == 8 and md["parity"]["clips"]["splits"] == {"dev": 6, "train": 2}
    assert md["parity"]["float32"]["passed"] is True and "test_uar" not in md["parity"]["dynamic"]
    assert md["training"]["epochs_done"] is None and md["training"]["best_dev_uar"] is None
    assert json.loads((out / "metadata.json").read_text()) == md


# --- atomicity and failures -----------------------------------------------------------------


def test_crash_mid_export_leaves_old_export_untouched(emodb_tiny_export, tmp_path, monkeypatch):
    from kerasser.export import exporter, tflite

    run, built = emodb_tiny_export
    out = tmp_path / "exported" / "tiny"
    shutil.copytree(built, out)
    before = tree_digest(out)
    written = []

    def crash(model, path, *args, **kwargs):  # the SavedModel is written by now
        written.extend(p.name for p in Path(path).parent.iterdir())
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(tflite, "export_tflite", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        exporter.export_run(run, out, write=lambda line: None)
    assert "saved_model" in written  # it did crash mid-export
    assert tree_digest(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny"]  # no temp folder left


def test_parity_check_fails_loudly():
    from kerasser.data.corpora import Utterance
    from kerasser.errors import ExportError
    from kerasser.export.parity import check_float, compare

    clips = [Utterance("/x/a.wav", "s", "test", {}), Utterance("/x/b.wav", "s", "test", {})]
    ref = [{"arousal": np.array(p, np.float32)} for p in ([0.2, 0.3, 0.5], [0.6, 0.3, 0.1])]
    close = [{"arousal": r["arousal"] + np.float32(5e-5)} for r in ref]
    figures = compare(ref, close, ["arousal"])
    assert figures["argmax_agreement"] == 1.0 and figures["max_abs_diff"] == pytest.approx(5e-5, rel=1e-2)
    check_float("TFLite float32", figures, 1e-4, clips)  # within tolerance: passes
    far = compare(ref, [{"arousal": r["arousal"] + np.float32(2e-4)} for r in ref], ["arousal"])
    with pytest.raises(ExportError, match="TFLite float32 parity check failed: max absolute probability difference"):
        check_float("TFLite float32", far, 1e-4, clips)
    flipped = [ref[0], {"arousal": np.array([0.3, 0.6, 0.1], np.float32)}]
    figures = compare(ref, flipped, ["arousal"])
    assert figures["argmax_agreement"] == 0.5
    assert figures["argmax_mismatches"] == [{"clip": 1, "task": "arousal"}]
    with pytest.raises(ExportError, match="arousal class differs from the Keras model on b.wav"):
        check_float("SavedModel", figures, 1.0, clips)  # argmax must agree whatever the tolerance
    with pytest.raises(ExportError, match="output names differ"):
        compare(ref, [{"valence": r["arousal"]} for r in ref], ["arousal"])


def test_refuses_to_replace_a_folder_that_is_not_an_export(emodb_tiny_export, tmp_path):
    from kerasser.errors import ExportError
    from kerasser.export.exporter import export_run

    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(ExportError, match="not a kerasser export"):
        export_run(emodb_tiny_export[0], out, write=lambda line: None)
    assert (out / "notes.txt").read_text() == "keep me"


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "two-renames"])
def test_replace_dir(tmp_path, monkeypatch, exchange):
    from kerasser.export import folder

    if not exchange:
        monkeypatch.setattr(folder, "_exchange", lambda a, b: False)
    target, new = tmp_path / "model", tmp_path / ".model.tmp-1"
    target.mkdir()
    (target / "old.txt").write_text("old")
    new.mkdir()
    (new / "new.txt").write_text("new")
    folder.replace_dir(new, target)
    assert [p.name for p in target.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    other = tmp_path / ".x.tmp"
    other.mkdir()
    folder.replace_dir(other, tmp_path / "fresh")  # no existing target: a plain rename
    assert (tmp_path / "fresh").is_dir() and not other.exists()


def test_leftovers_of_killed_exports_are_removed(tmp_path):
    import os
    import subprocess
    import sys

    from kerasser.export.folder import remove_stale

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(ended.stdout)  # a process that no longer runs
    names = [f".tiny.tmp-{pid}-aaaa", f".tiny.old-{pid}-bbbb", f".tiny.tmp-{os.getpid()}-cccc", ".other.tmp-1-x"]
    names.append("tiny")
    for name in names:
        (tmp_path / name).mkdir()
    removed = remove_stale(tmp_path / "tiny")
    assert sorted(p.name for p in removed) == [f".tiny.old-{pid}-bbbb", f".tiny.tmp-{pid}-aaaa"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[2:])


# --- other model variants: builtins only, parity at several lengths -------------------------


@pytest.mark.parametrize(
    "config",
    [
        dataclasses.replace(TINY, frontend="framed", conv_padding="same", gru_layers=2),
        dataclasses.replace(TINY, attention=False, head="cosine"),
        dataclasses.replace(TINY, frontend="logmel", audio=AudioConfig(frame_length=400), mel_bins=16,
                            block_channels=(8,), block_dilations=(1,), block_kernel=3, feature_norm="pcen"),
        dataclasses.replace(TINY, frontend="logmel", audio=AudioConfig(frame_length=400), mel_bins=16,
                            block_channels=(8,), block_dilations=(1,), block_kernel=3, mixstyle=0.5),
        dataclasses.replace(TINY, frontend="logmel", audio=AudioConfig(frame_length=400), mel_bins=16,
                            block_channels=(8,), block_dilations=(1,), block_kernel=3, norm_gate_db=30.0),
    ],
    ids=["framed-same-attention-2gru", "shared-laststep-cosine", "logmel-pcen", "logmel-mixstyle", "logmel-gated"],
)
def test_other_architectures_convert_with_builtins_only(tmp_path, config, rng):
    from kerasser.export.tflite import custom_ops, export_float32
    from kerasser.model.network import build_model, with_attention_outputs
    from kerasser.serve.inference import TFLiteRunner

    model = build_model(config)
    path = tmp_path / "model.tflite"
    assert custom_ops(export_float32(model, path)) == []
    runner = TFLiteRunner(path)
    reference = with_attention_outputs(model)
    for n in (1, 700, 3000):
        w = rng.normal(0, 0.1, n).astype(np.float32)
        ref = reference({"waveform": w[None], "length": np.array([n], np.int32)}, training=False)
        assert_parity({k: np.asarray(v)[0] for k, v in ref.items()}, runner(w))


# The default recipe's architecture in miniature (log-mel, SpecAugment, SE conv blocks, two frames
# per BiGRU step, 2-head attentive statistics).
TINY_DEFAULT = ModelConfig(
    tasks=("arousal", "emotion"), frontend="logmel", audio=AudioConfig(frame_length=400), mel_bins=16,
    block_channels=(8, 8), block_dilations=(1, 2), block_kernel=3, block_se=4, spec_time_masks=2,
    spec_freq_masks=2, gru_units=8, gru_layers=1, bidirectional=True, recurrent_stride=2, pool_heads=2,
    pool_statistics=True, l2=0.0,
)


def test_default_architecture_converts_with_builtins_only(tmp_path, rng):
    """float32: builtins only (RFFT2D for the spectrum), parity with Keras at several lengths, the
    attention output one weight per 25 ms frame; int8: runs, with the feature extraction float."""
    from kerasser.export.tflite import custom_ops, export_float32, export_int8, float_tensors, operator_names
    from kerasser.model.network import build_model, with_attention_outputs
    from kerasser.serve.inference import TFLiteRunner

    model = build_model(TINY_DEFAULT)
    content = export_float32(model, tmp_path / "model.tflite")
    ops = operator_names(content)
    assert custom_ops(content) == [] and not [op for op in ops if op.startswith("Flex")]
    assert {"RFFT2D", "LOG", "WHILE", "REVERSE_V2"} <= set(ops)
    runner = TFLiteRunner(tmp_path / "model.tflite")
    reference = with_attention_outputs(model)
    for n in (1, 700, 3000):
        w = rng.normal(0, 0.1, n).astype(np.float32)
        ref = reference({"waveform": w[None], "length": np.array([n], np.int32)}, training=False)
        out = runner(w)
        assert_parity({k: np.asarray(v)[0] for k, v in ref.items()}, out)
        assert out["arousal_attention"].shape == (TINY_DEFAULT.audio.num_frames(n),)

    kept = float_tensors(content)
    assert any("log_mel" in name for name in kept) and any("_pooling" in name for name in kept)
    clips = [rng.normal(0, 0.1, n).astype(np.float32) for n in (8000, 16000)]
    int8 = export_int8(model, tmp_path / "model_int8.tflite", clips)
    assert custom_ops(int8) == [] and "QUANTIZE" in operator_names(int8)
    quantised = TFLiteRunner(tmp_path / "model_int8.tflite")(clips[0])
    np.testing.assert_allclose(quantised["emotion"].sum(), 1.0, atol=1e-3)


def test_int8_float_layers_keep_more_layers_float(tmp_path, rng):
    """export_int8's float_layers: the convolution blocks, int8 by default, stay float32 when named
    (benchmarks/int8_layers.py's variants)."""
    from ai_edge_litert.interpreter import Interpreter

    from kerasser.export.tflite import FLOAT_LAYERS, export_int8
    from kerasser.model.network import build_model

    model = build_model(TINY_DEFAULT)
    clips = [rng.normal(0, 0.1, n).astype(np.float32) for n in (8000, 16000)]

    def block_dtypes(float_layers):
        path = tmp_path / "int8.tflite"
        export_int8(model, path, clips, float_layers=float_layers)
        details = Interpreter(model_path=str(path)).get_tensor_details()
        return {d["dtype"] for d in details if "block" in d["name"]}

    assert np.int8 in block_dtypes(FLOAT_LAYERS)
    assert np.int8 not in block_dtypes(FLOAT_LAYERS + ("block",))


# --- CLI ------------------------------------------------------------------------------------


def test_cli_export(emodb_tiny_export, tmp_path, monkeypatch):
    from click.testing import CliRunner
    from kerasser_cli.main import cli

    from kerasser.errors import ExportError
    from kerasser.export import exporter

    metadata = json.loads((emodb_tiny_export[1] / "metadata.json").read_text())
    calls = []

    def fake_export_run(run, out, quantize=(), name=None, other_corpora=(), with_transcript=False, held_out=()):
        calls.append((run, out, quantize, name, other_corpora))
        return exporter.ExportResult(Path(out), metadata)

    monkeypatch.setattr(exporter, "export_run", fake_export_run)
    out = str(tmp_path / "exported" / "demo")
    args = ["export", str(emodb_tiny_export[0]), "--out", out, "--quantize", "int8", "--quantize", "dynamic"]
    args += ["--name", "demo", "--corpus", "baved", "--data", "some/baved"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert calls == [(str(emodb_tiny_export[0]), out, ("int8", "dynamic"), "demo", (("baved", "some/baved"),))]
    assert "model.tflite" in result.output and "int8" in result.output and "test UAR (Keras)" in result.output

    def failing(*args, **kwargs):
        raise ExportError("TFLite float32 parity check failed: max absolute probability difference 1")

    monkeypatch.setattr(exporter, "export_run", failing)
    result = CliRunner().invoke(cli, ["export", str(emodb_tiny_export[0]), "--out", out])
    assert result.exit_code == 1 and "Error: TFLite float32 parity check failed" in result.output
    result = CliRunner().invoke(cli, ["export", str(emodb_tiny_export[0]), "--out", out, "--quantize", "int4"])
    assert result.exit_code == 2 and "int4" in result.output
    result = CliRunner().invoke(cli, ["export", str(emodb_tiny_export[0])])
    assert result.exit_code == 2 and "--out" in result.output


# --- default model folder -------------------------------------------------------------------


def test_default_model_dir(tmp_path, monkeypatch):
    import kerasser
    from kerasser.errors import ModelError
    from kerasser.serve.inference import default_model_dir

    monkeypatch.setenv("KERASSER_MODEL", str(tmp_path))
    assert default_model_dir() == tmp_path
    missing = tmp_path / "nope"
    monkeypatch.setenv("KERASSER_MODEL", str(missing))
    with pytest.raises(ModelError) as error:
        default_model_dir()
    assert str(missing) in str(error.value) and "\n" not in str(error.value)
    monkeypatch.delenv("KERASSER_MODEL")
    shipped = Path(kerasser.__path__[0]).resolve().parent / "exported" / "emodb-avde"
    if shipped.is_dir():
        assert default_model_dir() == shipped
    else:
        with pytest.raises(ModelError, match=str(shipped)):
            default_model_dir()


def test_load_exported_missing_files(emodb_tiny_export, tmp_path):
    from kerasser.errors import ModelError
    from kerasser.serve.inference import load_exported

    with pytest.raises(ModelError, match="no such model folder"):
        load_exported(tmp_path / "absent")
    with pytest.raises(ModelError, match="metadata.json"):
        load_exported(tmp_path)
    shutil.copy(emodb_tiny_export[1] / "metadata.json", tmp_path / "metadata.json")
    with pytest.raises(ModelError, match="model_int8.tflite"):
        load_exported(tmp_path, variant="int8")


@pytest.mark.parametrize("damage, backend, says", [
    ("tflite_random", "tflite", "model.tflite: not a usable TFLite model"),
    ("tflite_truncated", "tflite", "model.tflite: not a usable TFLite model"),
    ("keras_truncated", "keras", "model.keras: "),
    ("metadata_newer", "tflite", "metadata.json: export format 99 is newer than this kerasser reads"),
    ("metadata_not_json", "tflite", "metadata.json: "),
    ("tflite_of_another_model", "tflite", "model.tflite: has no output for arousal, which metadata.json lists"),
])
@pytest.mark.parametrize("verify", [True, False], ids=["verified", "no-verify-model"])
def test_damaged_model_files_give_one_line_naming_the_file(emodb_tiny_export, tmp_path, damage, backend, says,
                                                           verify):
    """A corrupt, truncated, newer-format or mismatched model file: ``kerasser label`` stops with
    one ``Error:`` line naming the file (exit 2), no traceback. A changed model file fails its
    SHA-256 check first; with --no-verify-model, the loader's own checks still catch these."""
    if verify and not damage.startswith("metadata"):
        says = says.split(":")[0] + ": does not match the SHA-256 recorded in metadata.json"
    from click.testing import CliRunner
    from kerasser_cli.main import cli

    model = tmp_path / "model"
    shutil.copytree(emodb_tiny_export[1], model)
    if damage == "tflite_random":
        (model / "model.tflite").write_bytes(np.random.default_rng(0).bytes(5000))
    elif damage == "tflite_truncated":
        content = (model / "model.tflite").read_bytes()
        (model / "model.tflite").write_bytes(content[: len(content) // 2])
    elif damage == "keras_truncated":
        content = (model / "model.keras").read_bytes()
        (model / "model.keras").write_bytes(content[: len(content) // 3])
    elif damage == "metadata_newer":
        meta = json.loads((model / "metadata.json").read_text())
        (model / "metadata.json").write_text(json.dumps({**meta, "format_version": 99}))
    elif damage == "metadata_not_json":
        (model / "metadata.json").write_text('{"format_version": 1, "tasks": [')
    elif damage == "tflite_of_another_model":  # a model with other outputs than metadata.json names
        from kerasser.export.tflite import export_float32
        from kerasser.model.network import build_model

        export_float32(build_model(dataclasses.replace(TINY, tasks=("emotion",))), model / "model.tflite")
    clip = tmp_path / "clip.wav"
    sf.write(clip, np.sin(np.arange(16000) / 10).astype(np.float32) * 0.3, 16000)
    args = ["label", str(clip), "--model", str(model), "--backend", backend]
    args += [] if verify else ["--no-verify-model"]
    result = CliRunner().invoke(cli, args)
    lines = result.output.strip().splitlines()
    assert "Traceback" not in result.output
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: ") and says in lines[0], lines


@pytest.mark.parametrize("content,reason", [
    (None, "No such file or directory"),
    ("{not json", "Expecting property name"),
    ('{"pooled": {"arousal": 50}}', "not a leave-one-corpus-out report"),
    ('[1, 2]', "not a leave-one-corpus-out report"),
    ('5', "not iterable"),
])
def test_bad_held_out_files_are_refused_before_any_work(tmp_path, content, reason):
    from kerasser.errors import ExportError
    from kerasser.export.exporter import read_held_out

    path = tmp_path / "crossval.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ExportError, match="cannot be used as leave-one-corpus-out figures") as caught:
        read_held_out([path])
    assert str(path) in str(caught.value) and reason in str(caught.value)
