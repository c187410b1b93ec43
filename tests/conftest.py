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


# --- the tiny models the tests train and export: one place, tests/tiny.py (a plain module, since
# tests/export/ has a conftest of its own): ``from tiny import TINY, TINY_LOGMEL``.


# --- randomness (layer and model tests) -------------------------------------------------------


@pytest.fixture
def rng():
    """A seeded NumPy generator; also seeds Python, NumPy and TensorFlow (initial weights, dropout)."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    return np.random.default_rng(0)


# --- small real-speech manifests (training and CLI tests) -------------------------------------


def write_manifest(path: Path, utterances, tasks=("arousal", "valence", "dominance", "emotion")) -> Path:
    """A manifest CSV of ``utterances`` (absolute paths, their split and speaker, transcript as
    ``text``, class names)."""
    import csv

    from kerasser.tasks import TASKS

    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "speaker", "split", "text", *tasks])
        for u in utterances:
            labels = [TASKS[t].classes[u.labels[t]] if t in u.labels else "" for t in tasks]
            writer.writerow([u.path, u.speaker, u.split, u.transcript or "", *labels])
    return path


@pytest.fixture(scope="session")
def manifest_writer():
    """``write_manifest(path, utterances, tasks=...)``, for tests that build their own manifests."""
    return write_manifest


@pytest.fixture(scope="session")
def emodb_small(shared_data, tmp_path_factory) -> Path:
    """Manifest of 24 real EmoDB clips: 12 train, 6 dev, 6 test, PROTOCOL splits kept."""
    from kerasser.data.corpora import read_emodb

    utts = read_emodb(shared_data / "emodb")
    chosen = []
    for split, n in (("train", 12), ("dev", 6), ("test", 6)):
        pool = [u for u in utts if u.split == split]
        chosen += pool[:: len(pool) // n][:n]
    return write_manifest(tmp_path_factory.mktemp("emodb_small") / "emodb_small.csv", chosen)


# --- tracing (front-end tests) ----------------------------------------------------------------


def _assert_traced_matches_eager(layer, inputs, atol=1e-5):
    """``layer`` under ``tf.function`` with unknown batch and time == ``layer`` run eagerly,
    in shape (the frame count) and values, for every array of ``inputs``, from one trace."""
    import numpy as np
    import tensorflow as tf

    spec = tf.TensorSpec([None] * inputs[0].ndim, tf.float32)
    traced = tf.function(lambda x: layer(x), input_signature=[spec])
    for x in inputs:
        eager = np.asarray(layer(x))
        graph = np.asarray(traced(x))
        assert graph.shape == eager.shape, f"traced {graph.shape} != eager {eager.shape} for input {x.shape}"
        np.testing.assert_allclose(graph, eager, atol=atol)
    assert traced.experimental_get_tracing_count() == 1


@pytest.fixture(scope="session")
def assert_traced_matches_eager():
    """The traced-vs-eager check that catches TimeDistributed-style axis bugs (see the front ends)."""
    return _assert_traced_matches_eager


# --- order (pytest-xdist) ---------------------------------------------------------------------
# The modules that take a worker longest (`pytest --durations=0`, summed per module), longest first.
LONGEST_FIRST = (
    "test_doc_examples.py", "test_training.py", "test_text_fusion.py", "test_ensemble.py",
    "test_training_resume.py", "test_multi_corpus.py", "test_ctc.py", "test_quiet_commands.py",
    "test_distribution.py", "test_records.py", "test_export_speaker.py",
)


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker more than the cores this process may use. Many tests wait on a
    subprocess that imports TensorFlow or on a stream, so two workers left a 2-core machine a sixth
    idle: the suite took 620 s with two workers and 563 s with three (2-core CI machine, user + system
    CPU 1041 s in the second: 1.85 cores busy)."""
    return len(os.sched_getaffinity(0)) + 1 if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1) + 1


def pytest_collection_modifyitems(config, items):
    """Modules with slow tests first, then the rest with the most tests first. Under ``--dist
    loadscope`` each module goes whole to the next free worker in this order (``addopts`` turns
    off xdist's own reordering, which sorts by test count and so left the one-test modules that
    train for a minute, such as the kill-and-resume test, for last: one worker busy, the other idle)."""
    modules: dict[str, list] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    longest = {name: i for i, name in enumerate(LONGEST_FIRST)}

    def order(name):
        slow = any(t.get_closest_marker("slow") for t in modules[name])
        if slow:  # the longest first, so that none of them is left for last
            return (0, longest.get(name.rsplit("/", 1)[-1], len(longest)))
        return (1, -len(modules[name]))  # sorted() is stable: the other slow ones in file order

    items[:] = [item for name in sorted(modules, key=order) for item in modules[name]]
