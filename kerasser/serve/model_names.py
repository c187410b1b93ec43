"""Models by name: the one resolver behind ``--model NAME``, ``Labeler(model=NAME)``,
``--init-from NAME`` and ``kerasser models``.

An installed model is a folder with a ``metadata.json`` in a source checkout's ``exported/``
(where ``kerasser export`` builds models) or in the package's ``kerasser/serve/shipped/`` (the copies a
wheel carries, :mod:`kerasser.serve.shipped`); the checkout's copy wins where both exist. A folder path
always works (and wins over a name); anything else is one line naming the installed models.
Imports no TensorFlow.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kerasser.contract import METADATA_FILE
from kerasser.data.corpora.terms import weight_terms
from kerasser.errors import ModelError
from kerasser.serve.shipped import DEFAULT_MODEL, packaged_models_dir

MODEL_ENV = "KERASSER_MODEL"
CHECKOUT_MODELS = Path(__file__).resolve().parents[2] / "exported"  # this file: <repo>/kerasser/serve/


def installed_models() -> dict[str, Path]:
    """``{name: folder}`` of every installed model, sorted by name (checkout copies first)."""
    found: dict[str, Path] = {}
    for root in (CHECKOUT_MODELS, packaged_models_dir()):
        try:
            entries = sorted(root.iterdir())
        except OSError:
            continue
        for folder in entries:
            if (folder / METADATA_FILE).is_file() and folder.name not in found:
                found[folder.name] = folder
    return dict(sorted(found.items()))


def _looks_like_path(text: str) -> bool:
    return os.sep in text or (os.altsep is not None and os.altsep in text) or text.startswith((".", "~"))


def resolve_model(model: str | os.PathLike | None = None) -> Path:
    """The folder of ``model``: an existing folder path, or an installed model's name; ``None``:
    ``$KERASSER_MODEL`` (a path or a name) if set, else the default model (``emodb-avde``).
    ModelError in one line otherwise: a path that is not there, or a name that is not installed
    (the line lists the installed ones)."""
    env = None
    if model is None:
        env = os.environ.get(MODEL_ENV) or None
        model = env if env is not None else DEFAULT_MODEL
    text = os.fspath(model)
    path = Path(text).expanduser()
    where = f" (${MODEL_ENV})" if env is not None else ""
    if path.is_dir():
        return path
    if isinstance(model, os.PathLike) or _looks_like_path(text) or path.exists():
        raise ModelError(f"no such model folder{where}", path=path)
    models = installed_models()
    if text in models:
        return models[text]
    known = ", ".join(models) or "none"
    if text == DEFAULT_MODEL:
        raise ModelError(f"no such model folder (the default model; make one with kerasser export, or set "
                         f"{MODEL_ENV})", path=CHECKOUT_MODELS / DEFAULT_MODEL)
    raise ModelError(f"unknown model {text!r}{where}: not a folder, nor an installed model's name "
                     f"(installed: {known})")


def folder_bytes(folder: Path) -> int:
    """The bytes of every file below ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def describe_model(name: str, folder: Path) -> dict:
    """What ``kerasser models`` shows of one model, from its ``metadata.json`` (the figures its
    card shows): tasks, training corpora, the terms its weights come under, size, test UAR."""
    try:
        metadata = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return {"name": name, "path": str(folder), "error": f"unreadable metadata ({type(error).__name__})"}
    corpora = [c[0] for c in (metadata.get("training") or {}).get("corpora") or []]
    test = metadata.get("test") or {}
    return {
        "name": name,
        "path": str(folder),
        "tasks": [t["name"] for t in metadata.get("tasks", [])],
        "corpora": corpora,
        "licence": weight_terms(corpora),
        "bytes": folder_bytes(folder),
        "test_uar": test.get("uar") or {},
        "test_mean_uar": test.get("mean_uar"),
    }


def list_models() -> list[dict]:
    """:func:`describe_model` of every installed model, by name."""
    return [describe_model(name, folder) for name, folder in installed_models().items()]
