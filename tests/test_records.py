"""Prepared TFRecord corpora (``kerasser prepare``): the same utterances, samples (to 16-bit
precision), labels and weights as the audio files; interleaved reads hold every example once;
broken files skipped and listed; one-line errors for folders that cannot be used."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

tf = pytest.importorskip("tensorflow")

from kerasser.data import dataset as data  # noqa: E402
from kerasser.data.corpora import CorpusError, read_corpus, select  # noqa: E402
from kerasser.data.examples import ExampleSettings  # noqa: E402
from kerasser.data.records import INDEX, decoded, prepare, read_prepared  # noqa: E402
from kerasser.errors import DataError  # noqa: E402

TASKS = ("arousal", "valence", "dominance", "emotion")
HALF_STEP = 0.5 / 32768 + 1e-7


@pytest.fixture(scope="module")
def corpus(emodb_small, tmp_path_factory):
    """emodb_small's 24 clips and one broken file, listed in a manifest, prepared into 20 kB shards."""
    folder = tmp_path_factory.mktemp("records")
    broken = folder / "broken.wav"
    broken.write_bytes(b"RIFF but not really")
    rows = emodb_small.read_text().splitlines()
    header = rows[0].split(",")
    cells = [""] * len(header)
    cells[header.index("path")], cells[header.index("speaker")], cells[header.index("split")] = str(broken), "x", "train"
    cells[header.index("arousal")] = "high"
    manifest = folder / "with_broken.csv"
    manifest.write_text("\n".join(rows + [",".join(cells)]) + "\n")
    raw = read_corpus("manifest", manifest)
    lines = []
    index = prepare(raw, folder / "prepared", shard_mb=0.2, corpora=[("manifest", str(manifest))], write=lines.append)
    return raw, folder / "prepared", index, lines


def test_index_and_utterances(corpus):
    raw, prepared, index, lines = corpus
    assert len(index["shards"]) > 3 and sum(s["utterances"] for s in index["shards"]) == 24
    assert [s["path"] for s in index["skipped"]] == [raw[-1].path]
    assert any(line.startswith(f"warning: skipped {raw[-1].path}: ") for line in lines)
    assert json.loads((prepared / INDEX).read_text()) == index
    utts = read_prepared(prepared)
    assert len(utts) == 24
    for a, b in zip(raw[:-1], utts):
        assert (a.path, a.speaker, a.split, a.labels, a.transcript, a.corpus, a.agreement) == (
            b.path, b.speaker, b.split, b.labels, b.transcript, b.corpus, b.agreement)
        assert b.record == (str(prepared.resolve()), b.record[1])
    assert read_corpus("tfrecord", prepared) == utts


def _examples(ds):
    return list(ds.as_numpy_iterator())


@pytest.mark.parametrize("split", ["train", "test"])
def test_same_examples_as_the_audio_files(corpus, split):
    raw, prepared, _, _ = corpus
    audio_utts = select(raw[:-1], split, TASKS)
    record_utts = select(read_prepared(prepared), split, TASKS)
    balance = data.class_weights(audio_utts, TASKS)
    speakers = data.speaker_indices(audio_utts)
    args = dict(weights_by_class=balance, speaker_index=speakers, transcripts=True, by_agreement=True)
    expected = _examples(data.decoded(audio_utts, ExampleSettings(TASKS, **args)))
    got = _examples(data.decoded(record_utts, ExampleSettings(TASKS, **args)))
    assert len(got) == len(expected) == len(audio_utts)
    for (xi, xl, xw), (yi, yl, yw) in zip(expected, got):
        assert xi["length"] == yi["length"]
        np.testing.assert_allclose(yi["waveform"], xi["waveform"], atol=HALF_STEP, rtol=0)
        assert xl.keys() == yl.keys() and xw.keys() == yw.keys()
        for t in xl:
            np.testing.assert_array_equal(yl[t], xl[t])
            assert yw[t] == xw[t]


def test_interleaved_reads_hold_every_example_once(corpus):
    _, prepared, _, _ = corpus
    utts = select(read_prepared(prepared), ("train", "dev"), TASKS)
    ds = decoded(utts, ExampleSettings(TASKS), interleave=True)
    def ids(ds):  # EmoDB's clips all last 2 s: tell them apart by their samples
        return [round(float(np.abs(x[0]["waveform"]).sum()), 3) for x in _examples(ds)]

    first, again, in_order = ids(ds), ids(ds), ids(decoded(utts, ExampleSettings(TASKS)))
    assert sorted(first) == sorted(in_order) and len(first) == len(utts)
    assert first == again  # deterministic interleave: the same stream every pass
    assert first != in_order  # several shards at a time
    batches = data.batched(ds, 4, training=True, seed=0, epoch=tf.Variable(0, dtype=tf.int64))
    assert sum(int(b[0]["length"].shape[0]) for b in batches) == len(utts)


def test_full_scale_overshoot_is_kept(tmp_path):
    """A resampler's overshoot past 1.0 is stored with a scale, not clipped."""
    import soundfile as sf

    from kerasser.data.corpora import Utterance

    t = np.arange(16000) / 16000
    wave = (1.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = tmp_path / "loud.wav"
    sf.write(path, wave, 16000, subtype="FLOAT")
    prepare([Utterance(str(path), "s", "train", {"arousal": 2})], tmp_path / "p", write=lambda line: None)
    (x, _, _), = _examples(data.decoded(read_prepared(tmp_path / "p"), ExampleSettings(("arousal",))))
    np.testing.assert_allclose(x["waveform"], wave, atol=1.3 * HALF_STEP)


def test_errors(corpus, tmp_path):
    raw, prepared, _, _ = corpus
    utts = read_prepared(prepared)
    with pytest.raises(DataError, match="prepared at 16000 Hz, but the model takes 8000 Hz"):
        decoded(utts, ExampleSettings(TASKS, 8000))
    with pytest.raises(DataError, match="cannot mix"):
        data.decoded([utts[0], raw[0]], ExampleSettings(TASKS))
    with pytest.raises(DataError, match="must come in its order"):
        decoded(utts[::-1], ExampleSettings(TASKS))
    with pytest.raises(CorpusError, match="no index.json: not a prepared TFRecord folder"):
        read_prepared(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(prepared, copy)
    os.remove(copy / "shard-00001.tfrecord")
    with pytest.raises(CorpusError, match=r"shard\(s\) missing: shard-00001.tfrecord"):
        read_prepared(copy)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="holds other files"):
        prepare(raw[:2], tmp_path, write=lambda line: None)


@pytest.mark.slow
def test_prepare_train_evaluate_cli(emodb_small, tmp_path):
    from kerasser_cli.main import cli

    runner = CliRunner()
    out = tmp_path / "prepared"
    result = runner.invoke(cli, ["prepare", "--corpus", "manifest", "--data", str(emodb_small), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "prepared 24 utterances" in result.stderr
    run = tmp_path / "run"
    from kerasser.config import save_json
    from kerasser.training.recipes import build_train_config

    tiny = build_train_config(corpora=(("tfrecord", str(out)),), out=str(run), tasks=("arousal",), epochs=1,
                              batch_size=8, mel_bins=16, block_channels=(8,), block_dilations=(1,), gru_units=8)
    save_json(tiny, tmp_path / "tiny.json")  # the default recipe in miniature
    result = runner.invoke(cli, ["train", "--config", str(tmp_path / "tiny.json"), "--out", str(run)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["evaluate", str(run), "--split", "test"])
    assert result.exit_code == 0, result.output
    report = json.loads((run / "eval_tfrecord_test.json").read_text())
    assert report["tasks"]["arousal"]["count"] == 6
    assert report["files"] == 6 and report["corpora"][0][0] == "tfrecord"
    assert [os.path.basename(p) for p in report["predictions"]["arousal"]["paths"]] == [
        os.path.basename(u.path) for u in select(read_corpus("manifest", emodb_small), "test", ("arousal",))]
    bad = runner.invoke(cli, ["train", "--corpus", "tfrecord", "--data", str(tmp_path), "--out", str(tmp_path / "r2")])
    assert bad.exit_code == 1 and f"{tmp_path}: no index.json" in bad.output


@pytest.mark.slow
def test_crossval_on_a_prepared_folder(corpus, tmp_path):
    """Speaker folds come from the index (corpus:speaker keys), samples from the shards."""
    from kerasser.evaluate.crossval import crossval
    from kerasser.training.recipes import build_train_config

    _, prepared, _, _ = corpus
    config = build_train_config(corpora=(("tfrecord", str(prepared)),), out=str(tmp_path / "cv"), tasks=("arousal",),
                                epochs=1, batch_size=8, mel_bins=16, block_channels=(8,), block_dilations=(1,),
                                gru_units=8)  # the default recipe in miniature
    summary = crossval(config, folds=2, dev_speakers=1, write=lambda line: None)
    assert len(summary["folds"]) == 2
    assert sum(f["files"] for f in summary["folds"]) == 24  # every prepared utterance tested once
    speakers = sorted(s for f in summary["folds"] for s in f["test"])
    assert speakers == sorted({f"{u.corpus}:{u.speaker}" for u in read_prepared(prepared)})
    assert 0 <= summary["pooled"]["arousal"] <= 100
