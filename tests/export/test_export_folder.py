"""Export folders are replaced atomically: a crash mid-export leaves the old export, a folder that
is not an export is refused, leftovers of killed exports are removed; the parity check fails loudly;
bad leave-one-corpus-out files are refused before any work."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


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
