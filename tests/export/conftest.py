"""The export tests' session fixture: a tiny run and its export with every quantisation."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest
from export_helpers import QUANTIZE, TINY

from kerasser.config import TrainConfig


@pytest.fixture(scope="session")
def emodb_tiny_export(tmp_path_factory, emodb_small) -> tuple[Path, Path]:
    """(run, export folder): a tiny run (1 epoch on the 24-clip EmoDB manifest) and its export
    with every quantisation, built once per test session: pytest-xdist's workers share one copy
    (the first builds it, holding a file lock the others wait on; the tests only read it)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's folder, above the workers' own
    base = base / "kerasser-export"
    base.mkdir(parents=True, exist_ok=True)
    run, out = base / "run", base / "exported" / "tiny"
    with open(base / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "metadata.json").is_file():
            _build(run, out, emodb_small)
    return run, out


def _build(run: Path, out: Path, emodb_small: Path) -> None:
    """Train the tiny run and export it; the manifest again as an "other" corpus (its test split
    scored for the card)."""
    from kerasser.export.exporter import export_run
    from kerasser.training.loop import train

    if not (run / "best.keras").is_file():  # not left by a build that failed while exporting
        config = TrainConfig(corpora=(("manifest", str(emodb_small)),), out=str(run), model=TINY, epochs=1, batch_size=8)
        train(config, write=lambda line: None)
    export_run(run, out, quantize=QUANTIZE, write=lambda line: None, other_corpora=(("manifest", str(emodb_small)),))
