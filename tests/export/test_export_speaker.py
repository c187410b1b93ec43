"""Exporting and labelling with a speaker-normalising model (``--feature-norm speaker``): the
``reference`` input and the ``speaker_statistics`` function in every format, parity with the Keras
model given the same references, and ``kerasser label --speakers folder`` (tiny model, 1 epoch on
real EmoDB clips)."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from kerasser.config import AudioConfig, ModelConfig, TrainConfig

pytestmark = pytest.mark.slow

SPEAKER_MODEL = ModelConfig(
    tasks=("arousal", "valence"), frontend="logmel", audio=AudioConfig(frame_length=400), mel_bins=16,
    block_channels=(8,), block_dilations=(1,), block_kernel=3, gru_units=8, gru_layers=1, l2=0.0, dropout=0.0,
    mel_trainable=False, feature_norm="speaker",
)
TOLERANCE = 1e-4
TASKS = ("arousal", "valence")


@pytest.fixture(scope="module")
def speaker_export(tmp_path_factory, emodb_small) -> tuple[Path, Path]:
    """(run, export folder) of a tiny speaker-normalising model, exported with int8."""
    from kerasser.export.exporter import export_run
    from kerasser.training.loop import train

    base = tmp_path_factory.mktemp("speaker-export")
    run, out = base / "run", base / "exported" / "speaker"
    config = TrainConfig(
        corpora=(("manifest", str(emodb_small)),), out=str(run), model=SPEAKER_MODEL, epochs=1, batch_size=8,
        learning_rate=1e-3,
    )
    train(config, write=lambda line: None)
    export_run(run, out, quantize=("int8",), write=lambda line: None)
    return run, out


@pytest.fixture(scope="module")
def test_clips(emodb_small):
    """``(speaker, waveform)`` of the manifest's test split."""
    from kerasser.data import audio
    from kerasser.data.corpora import read_manifest, speaker_key

    return [(speaker_key(u), audio.load(u.path)) for u in read_manifest(emodb_small) if u.split == "test"]


def keras_references(run: Path, clips) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each clip's own mean log mel and its speaker's (over ``clips``), by the Keras model."""
    import tensorflow as tf

    from kerasser.model.speaker_reference import clip_statistics, speaker_means
    from kerasser.training.runs import load_best_model

    model = load_best_model(run)
    waves = [w for _, w in clips]
    ds = tf.data.Dataset.from_generator(
        lambda: (({"waveform": w, "length": np.int32(len(w))},) for w in waves),
        output_signature=({"waveform": tf.TensorSpec([None], tf.float32), "length": tf.TensorSpec([], tf.int32)},),
    )
    sums, counts = clip_statistics(model, ds)
    return list((sums / counts[:, None]).astype(np.float32)), list(speaker_means([s for s, _ in clips], sums, counts))


def keras_outputs(run: Path, clips, references) -> list[dict[str, np.ndarray]]:
    from kerasser.model.network import REFERENCE
    from kerasser.training.runs import load_best_model

    model = load_best_model(run)
    outs = []
    for (_, w), r in zip(clips, references):
        out = model({"waveform": w[None], "length": np.array([len(w)], np.int32), REFERENCE: r[None]}, training=False)
        outs.append({t: np.asarray(out[t])[0] for t in TASKS})
    return outs


def test_files_metadata_and_signatures(speaker_export):
    import tensorflow as tf

    from kerasser.contract import STATISTICS_FILE, read_metadata

    out = speaker_export[1]
    assert (out / STATISTICS_FILE).is_file()
    meta = read_metadata(out)
    info = meta["speaker_reference"]
    assert info["input"] == "reference" and info["shape"] == [1, 16] and info["signature"] == "speaker_statistics"
    assert meta["files"]["tflite_statistics"]["path"] == STATISTICS_FILE
    assert meta["parity"]["statistics"]["passed"] and meta["parity"]["saved_model"]["statistics"]["passed"]
    assert meta["parity"]["float32"]["passed"] and meta["parity"]["int8"]["test_uar_change"] is not None
    assert "It normalises by speaker" in (out / "MODEL_CARD.md").read_text()
    loaded = tf.saved_model.load(str(out / "saved_model"))
    serve = loaded.signatures["serving_default"]
    assert sorted(serve.structured_input_signature[1]) == ["reference", "waveform"]
    stats = loaded.signatures["speaker_statistics"]
    assert sorted(stats.structured_outputs) == ["frames", "log_mel_sum"]


@pytest.mark.parametrize("backend", ["tflite", "keras"])
def test_exported_model_matches_keras_given_the_same_references(speaker_export, test_clips, backend):
    from kerasser.serve.inference import load_exported, reference_of

    run, out = speaker_export
    own, by_speaker = keras_references(run, test_clips)
    model = load_exported(out, backend=backend)
    assert model.needs_reference
    for (_, w), ref in zip(test_clips, own):  # the exported statistics give the Keras model's clip means
        total, frames = model.statistics(w)
        np.testing.assert_allclose(total / frames, ref, atol=1e-3)
    # a speaker's reference from the exported statistics of its clips, as the Keras model makes it
    for speaker in {s for s, _ in test_clips}:
        mine = [i for i, (s, _) in enumerate(test_clips) if s == speaker]
        made = reference_of([model.statistics(test_clips[i][1]) for i in mine])
        np.testing.assert_allclose(made, by_speaker[mine[0]], atol=1e-3)
    for refs in (by_speaker, own):
        for (_, w), r, want in zip(test_clips, refs, keras_outputs(run, test_clips, refs)):
            got = model.predict(w, reference=r)
            for t in TASKS:
                np.testing.assert_allclose(got[t], want[t], atol=TOLERANCE)
    # without a reference, the clip's own
    for (_, w), want in zip(test_clips, keras_outputs(run, test_clips, own)):
        for t in TASKS:
            np.testing.assert_allclose(model.predict(w)[t], want[t], atol=TOLERANCE)
    with pytest.raises(ValueError, match="reference of shape"):
        model.predict(test_clips[0][1], reference=np.zeros(3, np.float32))


def test_int8_takes_the_reference(speaker_export, test_clips):
    from kerasser.serve.inference import load_exported

    model = load_exported(speaker_export[1], variant="int8")
    total, frames = model.statistics(test_clips[0][1])
    out = model.predict(test_clips[0][1], reference=total / frames)
    for t in TASKS:
        assert np.all(np.isfinite(out[t])) and abs(float(out[t].sum()) - 1.0) < 1e-3


def test_label_speakers_folder(speaker_export, test_clips, tmp_path, emodb_small):
    """--speakers folder: every file of a folder gets the reference of all of that folder's files."""
    from kerasser_cli.main import cli

    from kerasser.data.corpora import read_manifest, speaker_key
    from kerasser.serve.inference import load_exported, reference_of

    folder = tmp_path / "clips"
    for u in read_manifest(emodb_small):
        if u.split == "test":
            (folder / speaker_key(u).replace(":", "_")).mkdir(parents=True, exist_ok=True)
            shutil.copy(u.path, folder / speaker_key(u).replace(":", "_") / Path(u.path).name)
    (folder / speaker_key(u).replace(":", "_") / "broken.wav").write_bytes(b"RIFF0000WAVE")
    result = CliRunner().invoke(cli, ["label", str(folder), "--model", str(speaker_export[1]), "--speakers", "folder"])
    assert result.exit_code == 1, result.output  # the broken file: its own row, the others labelled
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sum(bool(r["error"]) for r in rows) == 1 and len(rows) == len(test_clips) + 1
    model = load_exported(speaker_export[1])
    from kerasser.data import audio
    waves = {r["path"]: audio.load(r["path"]) for r in rows if not r["error"]}
    for speaker_dir in folder.iterdir():
        mine = [p for p in waves if Path(p).parent == speaker_dir]
        reference = reference_of([model.statistics(waves[p]) for p in mine])
        for row in (r for r in rows if r["path"] in mine):
            want = model.predict(waves[row["path"]], reference=reference)
            for t in TASKS:
                got = [float(row[f"{t}_{c}"]) for c in ("low", "mid", "high")]
                np.testing.assert_allclose(got, want[t], atol=1e-5)
    # the same speakers from a table, the files in one flat folder
    flat = tmp_path / "flat"
    flat.mkdir()
    table = ["path,speaker"]
    for path in waves:
        copy = flat / f"{Path(path).parent.name}_{Path(path).name}"
        shutil.copy(path, copy)
        table.append(f"{copy},{Path(path).parent.name}")
    (tmp_path / "speakers.csv").write_text("\n".join(table) + "\n")
    tabled = CliRunner().invoke(cli, ["label", str(flat), "--model", str(speaker_export[1]),
                                      "--speakers", str(tmp_path / "speakers.csv")])
    assert tabled.exit_code == 0, tabled.output
    by_name = {Path(r["path"]).name: r for r in csv.DictReader(io.StringIO(tabled.stdout))}
    for row in (r for r in rows if not r["error"]):
        twin = by_name[f"{Path(row['path']).parent.name}_{Path(row['path']).name}"]
        assert [twin[f"valence_{c}"] for c in ("low", "mid", "high")] == [row[f"valence_{c}"] for c in ("low", "mid", "high")]
    (tmp_path / "bad.csv").write_text("file,who\na.wav,x\n")
    bad = CliRunner().invoke(cli, ["label", str(flat), "--model", str(speaker_export[1]),
                                   "--speakers", str(tmp_path / "bad.csv")])
    assert bad.exit_code == 2 and "no path or speaker column" in bad.output and "Traceback" not in bad.output
    # without --speakers: a note on stderr, and each file its own speaker
    plain = CliRunner().invoke(cli, ["label", str(next(iter(waves))), "--model", str(speaker_export[1])])
    assert plain.exit_code == 0 and "without --speakers" in plain.stderr
    row = next(csv.DictReader(io.StringIO(plain.stdout)))
    want = model.predict(waves[row["path"]])
    np.testing.assert_allclose([float(row[f"arousal_{c}"]) for c in ("low", "mid", "high")], want["arousal"], atol=1e-5)
