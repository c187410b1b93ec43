"""The ordinary install: a wheel built from this repo, installed (base install, no TensorFlow) into
a fresh virtual environment outside the source tree, labels the example clips with the model it
carries, exactly as the source checkout does; ``kerasser train`` there names the extra to install.

Needs the package index (pip installs NumPy, soundfile, soxr and LiteRT): skipped when it cannot
be reached, except under CI=true, where it fails.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kerasser.serve.shipped import SHIPPED_FILES, SHIPPED_MODELS

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run(*args, **kwargs):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = run(sys.executable, "-m", "pip", "wheel", REPO, "--no-deps", "-q", "-w", out)
    assert built.returncode == 0, built.stderr
    return next(out.glob("kerasser-*.whl"))


def test_wheel_carries_the_shipped_models(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for model in SHIPPED_MODELS:  # the ensemble too (the wheel: 38 MB)
        for name in SHIPPED_FILES:
            assert f"kerasser/serve/shipped/{model}/{name}" in names
    assert not any(n.startswith(("cli/", "exported/", "tests/")) for n in names)  # only the two packages
    assert "kerasser_cli/main.py" in names and "kerasser/__main__.py" in names
    assert wheel.stat().st_size < 100e6  # PyPI's limit for one file


def test_base_install_from_the_wheel_labels_like_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    # the virtual environment sees nothing of the checkout: no PYTHONPATH (pip would take the
    # checkout's kerasser.egg-info for an installed kerasser and skip the wheel)
    isolated = {k: v for k, v in os.environ.items() if k not in ("KERASSER_MODEL", "KERASSER_DEBUG", "PYTHONPATH")}
    assert run(sys.executable, "-m", "venv", venv).returncode == 0
    installed = run(venv / "bin" / "pip", "install", "-q", wheel, env=isolated)
    if installed.returncode != 0:
        message = f"pip could not install the wheel's dependencies: {installed.stderr.strip()[-300:]}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    python = venv / "bin" / "python"
    assert run(python, "-c", "import tensorflow", env=isolated).returncode != 0  # the base install has no TensorFlow

    clips = REPO / "examples"
    env = {k: v for k, v in os.environ.items() if k not in ("KERASSER_MODEL", "KERASSER_DEBUG")}
    # from a folder outside the repo, so nothing can come from the source tree
    labelled = run(venv / "bin" / "kerasser", "label", clips, cwd=tmp_path, env=isolated)
    assert labelled.returncode == 0, labelled.stderr
    where = run(python, "-c", "from kerasser.serve.inference import default_model_dir; print(default_model_dir())",
                cwd=tmp_path, env=isolated)
    assert Path(where.stdout.strip()).is_relative_to(venv)

    checkout = run(sys.executable, "-m", "kerasser_cli", "label", clips, cwd=REPO, env=env)
    assert checkout.returncode == 0, checkout.stderr
    rows = list(csv.DictReader(io.StringIO(labelled.stdout)))
    expected = list(csv.DictReader(io.StringIO(checkout.stdout)))
    assert len(rows) == len(list(clips.glob("*.wav"))) == len(expected)
    assert rows == expected

    models = run(python, "-m", "kerasser", "models", cwd=tmp_path, env=isolated)
    assert models.returncode == 0 and [line.split()[0] for line in models.stdout.splitlines()[1:]] == sorted(
        SHIPPED_MODELS)
    ensemble = run(venv / "bin" / "kerasser", "label", clips, "--model", SHIPPED_MODELS[1], cwd=tmp_path, env=isolated)
    assert ensemble.returncode == 0 and ensemble.stdout.count("\n") == len(expected) + 1
    api = run(python, "-c", "import kerasser; kerasser.load_model('emodb-avde')", cwd=tmp_path, env=isolated)
    assert api.returncode == 1 and "ModuleNotFoundError" not in api.stderr
    assert "MissingExtraError: kerasser.load_model needs" in api.stderr and "kerasser[train]" in api.stderr

    train = run(venv / "bin" / "kerasser", "train", "--corpus", "emodb", "--data", tmp_path, "--out",
                tmp_path / "run", cwd=tmp_path, env=isolated)
    assert train.returncode == 1 and "Traceback" not in train.stderr
    assert "pip install 'kerasser[train]'" in train.stderr.strip().splitlines()[-1]
