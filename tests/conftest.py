"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# --- shared data (corpora) -------------------------------------------------------------------
# KERASSER_SHARED points at the shared folder (default: <repo>/../shared); corpora live in its data/.
# Missing data skips the test locally but fails it on CI, where the data must be present.

SHARED = Path(os.environ.get("KERASSER_SHARED", Path(__file__).resolve().parent.parent.parent / "shared"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``<shared>/data``: the real EmoDB and BAVED copies described in its PROTOCOL.md."""
    data = SHARED / "data"
    if not data.is_dir():
        message = f"shared data folder {data} not found (set KERASSER_SHARED)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return data
