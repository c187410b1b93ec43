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
from export_helpers import (  # tests/export/export_helpers.py
    QUANTIZE,
    TINY,
    TOLERANCE,
    assert_parity,
    keras_outputs,
)

from kerasser.config import AudioConfig
from kerasser.tasks import TASKS

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
