"""Models by name (issue 41): one resolver for ``--model NAME``, ``Labeler(model=NAME)``,
``--init-from NAME``; ``kerasser models`` lists them; ``python -m kerasser`` runs the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kerasser.errors import ModelError
from kerasser.serve.model_names import describe_model, installed_models, resolve_model
from kerasser.serve.shipped import DEFAULT_MODEL, SHIPPED_MODELS

REPO = Path(__file__).resolve().parents[1]
SHIPPED = [name for name in SHIPPED_MODELS if (REPO / "exported" / name / "metadata.json").is_file()]
needs_models = pytest.mark.skipif(len(SHIPPED) != len(SHIPPED_MODELS), reason="shipped models not in this checkout")


def kerasser(*args, module="kerasser", env=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KERASSER_MODEL"} | (env or {})
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=300)


@needs_models
def test_names_paths_and_unknown_names(tmp_path, monkeypatch):
    monkeypatch.delenv("KERASSER_MODEL", raising=False)
    models = installed_models()
    assert set(SHIPPED_MODELS) <= set(models)
    for name in SHIPPED_MODELS:
        assert resolve_model(name) == REPO / "exported" / name
    assert resolve_model(None) == REPO / "exported" / DEFAULT_MODEL
    copy = tmp_path / "mine"
    copy.mkdir()
    assert resolve_model(copy) == copy and resolve_model(str(copy)) == copy  # a folder path works
    monkeypatch.setenv("KERASSER_MODEL", SHIPPED_MODELS[1])  # $KERASSER_MODEL takes a name too
    assert resolve_model(None) == REPO / "exported" / SHIPPED_MODELS[1]
    with pytest.raises(ModelError) as error:
        resolve_model("emodb-avdee")
    message = str(error.value)
    assert "\n" not in message and "unknown model 'emodb-avdee'" in message
    assert all(name in message for name in SHIPPED_MODELS)
    with pytest.raises(ModelError, match="no such model folder"):
        resolve_model(tmp_path / "nothing")


def test_licence_follows_the_training_corpora(tmp_path):
    folder = tmp_path / "ravdess-model"
    folder.mkdir()
    metadata = {"tasks": [{"name": "emotion"}], "training": {"corpora": [["emodb", "x"], ["ravdess", "y"]]},
                "test": {"uar": {"emotion": 61.25}, "mean_uar": 61.25}}
    (folder / "metadata.json").write_text(json.dumps(metadata))
    described = describe_model("ravdess-model", folder)
    assert described["corpora"] == ["emodb", "ravdess"] and described["bytes"] == len(json.dumps(metadata))
    assert "non-commercial" in described["licence"] and "research (EmoDB)" in described["licence"]
    metadata["training"]["corpora"] = [["baved", "z"]]
    (folder / "metadata.json").write_text(json.dumps(metadata))
    assert describe_model("b", folder)["licence"].startswith("non-commercial")


@needs_models
def test_kerasser_models_lists_what_the_cards_say():
    done = kerasser("models")  # python -m kerasser
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0].split()[:5] == ["name", "tasks", "corpora", "licence", "size"]
    for name in SHIPPED_MODELS:
        metadata = json.loads((REPO / "exported" / name / "metadata.json").read_text())
        row = next(line for line in lines if line.split()[0] == name)
        assert "a,v,d,e" in row and "research (EmoDB)" in row
        assert f"{metadata['test']['mean_uar']:.1f} (a {metadata['test']['uar']['arousal']:.1f}" in row
        card = (REPO / "exported" / name / "MODEL_CARD.md").read_text()
        assert f"| emotion | anger, boredom, disgust, fear, happiness, sadness, neutral | " \
               f"{metadata['test']['uar']['emotion']:.1f} |" in card  # the card's figure, as listed
    listed = [json.loads(line) for line in kerasser("models", "--json").stdout.splitlines()]
    assert [m["name"] for m in listed][:2] == sorted(SHIPPED_MODELS)


@needs_models
def test_label_and_labeler_take_a_name(tmp_path):
    clip = REPO / "examples" / "16a01Wb.wav"
    by_name = kerasser("label", "--model", SHIPPED_MODELS[1], clip, module="kerasser_cli")
    by_path = kerasser("label", "--model", REPO / "exported" / SHIPPED_MODELS[1], clip, module="kerasser_cli")
    assert by_name.returncode == 0 and by_name.stdout == by_path.stdout
    default = kerasser("label", clip, module="kerasser_cli")
    assert default.stdout != by_name.stdout  # another model: other probabilities
    unknown = kerasser("label", "--model", "nope", clip)
    assert unknown.returncode == 2 and unknown.stdout == ""
    assert unknown.stderr.strip() == ("Error: unknown model 'nope': not a folder, nor an installed model's name "
                                      f"(installed: {', '.join(installed_models())})")
    env_name = kerasser("label", clip, env={"KERASSER_MODEL": SHIPPED_MODELS[1]})
    assert env_name.stdout == by_name.stdout


@needs_models
def test_init_from_resolves_names_through_the_same_resolver(tmp_path):
    pytest.importorskip("keras")
    from kerasser.training.init_source import source_model_file

    assert source_model_file(SHIPPED_MODELS[1]) == REPO / "exported" / SHIPPED_MODELS[1] / "model.keras"
    shutil.copytree(REPO / "exported" / DEFAULT_MODEL, tmp_path / "copy", ignore=shutil.ignore_patterns("saved_model"))
    assert source_model_file(tmp_path / "copy") == tmp_path / "copy" / "model.keras"


@needs_models
@pytest.mark.parametrize("name", SHIPPED_MODELS)
def test_raw_output_order_names_each_output_once(name):
    """The converter merges a read-out task's attention with its source head's into one tensor
    (listed twice among the raw outputs): the order still names every output once."""
    from kerasser.serve.inference import TFLiteRunner

    runner = TFLiteRunner(REPO / "exported" / name / "model.tflite")
    order = runner.raw_output_order()
    assert sorted(order) == sorted(runner._outputs)
    recorded = json.loads((REPO / "exported" / name / "metadata.json").read_text())["tflite"]
    assert recorded["output_order"] == order
