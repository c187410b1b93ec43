"""The export tests' session fixture: a tiny run and its export with every quantisation."""

from __future__ import annotations

from pathlib import Path

import pytest
from export_helpers import QUANTIZE, TINY

from kerasser.config import TrainConfig


@pytest.fixture(scope="session")
def emodb_tiny_export(tmp_path_factory, emodb_small) -> tuple[Path, Path]:
    """(run, export folder): a tiny run (1 epoch on the 24-clip EmoDB manifest) and its export
    with every quantisation, built once per test session."""
    from kerasser.export.exporter import export_run
    from kerasser.training import train

    base = tmp_path_factory.getbasetemp() / "kerasser-export"
    run, out = base / "run", base / "exported" / "tiny"
    if not (out / "metadata.json").is_file():
        if not (run / "best.keras").is_file():
            config = TrainConfig(
                corpora=(("manifest", str(emodb_small)),), out=str(run), model=TINY, epochs=1, batch_size=8
            )
            train(config, write=lambda line: None)
        # the manifest again as an "other" corpus: its test split scored for the card
        export_run(run, out, quantize=QUANTIZE, write=lambda line: None, other_corpora=(("manifest", str(emodb_small)),))
    return run, out

