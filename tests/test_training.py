"""Training and evaluation on a few real EmoDB clips (tiny budgets: one or two epochs)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from kerasser.config import ModelConfig, TrainConfig
from kerasser.data.corpora import read_baved, read_corpus, read_emodb, select, speaker_key
from kerasser.data.dataset import make_dataset
from kerasser.evaluate.run import evaluate_run, split_predictions
from kerasser.evaluate.speaker_norm import normalise_by_speaker
from kerasser.metrics import predict, score, uar
from kerasser.training.loop import train
from kerasser.training.runs import RunError, RunPaths, load_best_model, load_config

pytestmark = pytest.mark.slow

from tiny import TINY  # noqa: E402


def tiny_config(manifest, out, **model):
    return TrainConfig(
        corpora=(("manifest", str(manifest)),),
        out=str(out),
        model=ModelConfig(**{**TINY, **model}),
        epochs=1,
        batch_size=8,
        learning_rate=1e-3,
    )


def metrics(run_dir):
    with open(RunPaths(run_dir).metrics) as f:
        return list(csv.DictReader(f))


def test_run_folder_and_metrics(emodb_small, tmp_path):
    result = train(tiny_config(emodb_small, tmp_path / "run"), write=lambda line: None)
    paths = RunPaths(tmp_path / "run")
    for p in (paths.config, paths.metrics, paths.best_model, paths.last_model, paths.state, paths.learning_curves):
        assert p.exists(), p
    rows = metrics(paths.root)
    assert len(rows) == 1
    for t in ("arousal", "valence", "dominance"):
        assert 0.0 <= float(rows[0][f"val_uar_{t}"]) <= 100.0
    assert np.isfinite(float(rows[0]["loss"]))
    assert result.epochs_done == 1 and result.best_epoch == 1
    assert json.loads(paths.config.read_text())["model"]["tasks"] == ["arousal", "valence", "dominance"]


def test_resume_continues_from_last_epoch(emodb_small, tmp_path):
    config = tiny_config(emodb_small, tmp_path / "run")
    train(config, write=lambda line: None)
    with pytest.raises(RunError, match="already there"):
        train(config, write=lambda line: None)
    result = train(config, resume=True, epochs=2, write=lambda line: None)
    assert result.epochs_done == 2
    assert [r["epoch"] for r in metrics(tmp_path / "run")] == ["0", "1"]
    assert json.loads(RunPaths(tmp_path / "run").config.read_text())["epochs"] == 2


def test_missing_labels_are_masked_when_corpora_are_mixed(shared_data, manifest_writer, tmp_path):
    """EmoDB (a, v, d) and BAVED (arousal only) train together: BAVED rows carry no valence or
    dominance loss, and the run still scores all three tasks on dev."""
    emodb = [u for u in read_emodb(shared_data / "emodb") if u.split in ("train", "dev")][::40]
    baved = [u for u in read_baved(shared_data / "baved") if u.split in ("train", "dev")][::150]
    manifest = manifest_writer(tmp_path / "mixed.csv", emodb + baved)
    result = train(tiny_config(manifest, tmp_path / "run"), write=lambda line: None)
    assert np.isfinite(result.best_dev_uar)
    row = metrics(tmp_path / "run")[0]
    assert all(np.isfinite(float(row[f"{t}_loss"])) for t in ("arousal", "valence", "dominance"))


def test_evaluate_on_own_and_on_another_corpus(shared_data, emodb_small, manifest_writer, tmp_path):
    train(tiny_config(emodb_small, tmp_path / "run", attention=False), write=lambda line: None)
    report = evaluate_run(tmp_path / "run", split="test")
    assert set(report["tasks"]) == {"arousal", "valence", "dominance"}
    arousal = report["tasks"]["arousal"]
    cm = np.array(arousal["confusion"])
    assert cm.sum() == report["files"] == 6
    recalls = [v for v in arousal["recall"].values() if v is not None]
    assert arousal["uar"] == pytest.approx(np.mean(recalls))
    assert RunPaths(tmp_path / "run").eval_report("manifest_test").exists()
    # the same predictions as arrays, for the benchmarks that re-read a run's heads
    labels, probs = split_predictions(tmp_path / "run", ("arousal", "valence"), splits=("test",))["test"]
    assert probs["arousal"].shape == (6, 3) and len(labels["valence"]) == 6
    assert uar(labels["arousal"], probs["arousal"].argmax(1)) == pytest.approx(arousal["uar"])
    for task in ("arousal", "valence", "dominance"):
        assert RunPaths(tmp_path / "run").confusion_figure("manifest_test", task).exists()

    baved = [u for u in read_baved(shared_data / "baved") if u.split == "test"][::60]
    other = manifest_writer(tmp_path / "baved.csv", baved, tasks=("arousal",))
    cross = evaluate_run(tmp_path / "run", split="test", corpora=[("manifest", str(other))])
    assert set(cross["tasks"]) == {"arousal"}
    assert cross["files"] == len(baved)


    # speaker-normalised: the same model's probabilities, centred per speaker, written apart
    normed = evaluate_run(tmp_path / "run", split="test", speaker_norm=True)
    assert normed["speaker_norm"] is True and report["speaker_norm"] is False
    assert RunPaths(tmp_path / "run").eval_report("manifest_test_speaker-norm").exists()
    tasks = ("arousal", "valence", "dominance")
    test = select(read_corpus("manifest", emodb_small), "test", tasks)
    assert len({u.speaker for u in test}) == 2  # EmoDB's test speakers, 3 clips each
    _, probs, _ = predict(load_best_model(tmp_path / "run"), make_dataset(test, tasks, 4, training=False), tasks)
    for task in tasks:
        expected = normalise_by_speaker(probs[task], [speaker_key(u) for u in test]).argmax(1)
        assert normed["predictions"][task]["predicted"] == expected.tolist()
        assert report["predictions"][task]["predicted"] == probs[task].argmax(1).tolist()
        np.testing.assert_allclose(report["predictions"][task]["probabilities"], probs[task], atol=1e-6)
        assert report["predictions"][task]["speakers"] == [speaker_key(u) for u in test]


def test_train_needs_dev_labels(emodb_small, tmp_path):
    rows = list(csv.DictReader(open(emodb_small)))
    no_dev = tmp_path / "nodev.csv"
    with open(no_dev, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(r for r in rows if r["split"] != "dev")
    with pytest.raises(ValueError, match="no dev utterances"):
        train(tiny_config(no_dev, tmp_path / "run"), write=lambda line: None)


def test_without_dev_split_trains_on_train_and_dev_and_keeps_last_epoch(emodb_small, tmp_path):
    import dataclasses

    config = dataclasses.replace(
        tiny_config(emodb_small, tmp_path / "run"), train_splits=("train", "dev"), dev_split=None, epochs=2
    )
    lines = []
    result = train(config, write=lines.append)
    assert lines[0].startswith("train 18 utterances, dev 0")
    assert result.epochs_done == 2 and result.best_epoch == 2
    assert "val_uar" not in metrics(tmp_path / "run")[0]
    assert RunPaths(tmp_path / "run").best_model.exists()
    with pytest.raises(ValueError, match="both trained on"):
        dataclasses.replace(config, dev_split="dev")


def test_weight_average_callback_means_float_weights():
    import keras

    from kerasser.training.callbacks import WeightAverage

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    averager = WeightAverage(2)
    averager.set_model(model)
    snapshots = []
    for scale in (1.0, 2.0, 4.0):  # only the last two count
        model.set_weights([np.full_like(w, scale) for w in model.get_weights()])
        snapshots.append(model.get_weights())
        averager.on_epoch_end(0)
    for got in averager.averaged():
        np.testing.assert_allclose(got, 3.0)


def test_average_becomes_best_without_dev_split(emodb_small, tmp_path):
    import dataclasses

    import keras

    config = dataclasses.replace(tiny_config(emodb_small, tmp_path / "run"), epochs=3, dev_split=None,
                                 train_splits=("train", "dev"), average_last=2)
    train(config, write=lambda line: None)
    paths = RunPaths(tmp_path / "run")
    best = keras.saving.load_model(paths.best_model, compile=False).get_weights()
    average = keras.saving.load_model(paths.average_model, compile=False).get_weights()
    last = keras.saving.load_model(paths.last_model, compile=False).get_weights()
    for b, a in zip(best, average):
        np.testing.assert_array_equal(b, a)
    assert any(not np.array_equal(a, w) for a, w in zip(average, last))
    state = json.loads(paths.state.read_text())
    assert state["averaged"] is True and state["averaged_epochs"] == 2


def test_a_model_at_another_rate_trains_and_evaluates_at_that_rate(emodb_small, tmp_path):
    """ModelConfig.audio.sample_rate is the one rate: decoding, the dataset and evaluation use it."""
    import dataclasses

    from kerasser.config import AudioConfig
    from kerasser.data.corpora import read_manifest
    from kerasser.data.examples import ExampleSettings, examples

    utts = read_manifest(emodb_small)[:2]
    at_8k = [x["length"] for x, _, _ in examples(utts, ExampleSettings(("arousal",), 8000))]
    at_16k = [x["length"] for x, _, _ in examples(utts, ExampleSettings(("arousal",)))]
    assert all(abs(a * 2 - b) <= 2 for a, b in zip(at_8k, at_16k))

    config = tiny_config(emodb_small, tmp_path / "run")
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, audio=AudioConfig(sample_rate=8000)))
    train(config, write=lambda line: None)
    report = evaluate_run(tmp_path / "run", "test")
    assert report["files"] == 6
    saved = json.loads(RunPaths(tmp_path / "run").config.read_text())
    assert saved["model"]["audio"]["sample_rate"] == 8000


def test_speaker_adversarial_training_and_export_without_the_adversary(emodb_small, tmp_path):
    import dataclasses

    import keras

    from kerasser.model.network import with_attention_outputs

    config = tiny_config(emodb_small, tmp_path / "run")
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, speaker_adversarial=0.5))
    train(config, write=lambda line: None)
    saved = json.loads(RunPaths(tmp_path / "run").config.read_text())
    speakers = len({u["speaker"] for u in csv.DictReader(open(emodb_small)) if u["split"] == "train"})
    assert saved["model"]["speakers"] == speakers > 1
    model = keras.saving.load_model(RunPaths(tmp_path / "run").best_model, compile=False)
    assert model.output["speaker"].shape[-1] == speakers
    assert "speaker" not in with_attention_outputs(model).output  # never served
    assert evaluate_run(tmp_path / "run", "test")["files"] == 6


def test_mixup_training_is_repeatable(emodb_small, tmp_path):
    """Mixed batches (soft targets, mixed class weights) train, and a seed repeats the run."""
    import dataclasses

    from kerasser.config import AugmentConfig

    for name in ("a", "b"):
        config = dataclasses.replace(
            tiny_config(emodb_small, tmp_path / name), augment=AugmentConfig(mixup_alpha=0.4), class_balanced=True
        )
        train(config, write=lambda line: None)
    a, b = metrics(tmp_path / "a"), metrics(tmp_path / "b")
    assert np.isfinite(float(a[0]["loss"]))
    assert float(a[0]["loss"]) == pytest.approx(float(b[0]["loss"]), rel=1e-5)
    assert evaluate_run(tmp_path / "a", "test")["files"] == 6


def test_readout_tasks_are_saved_off_the_emotion_head_and_picked_on_either_model(emodb_small, tmp_path):
    """``readout_tasks``: dominance's own head trains, the saved best.keras reads dominance off the
    emotion head (no dominance head in it); the dev UAR that picks the epoch is the saved model's
    (``select_on="saved"``) or the trained heads' (``"trained"``); training itself is the same."""
    import dataclasses

    import keras

    from kerasser.tasks import emotion_groups

    tasks = ("arousal", "valence", "dominance", "emotion")
    config = dataclasses.replace(tiny_config(emodb_small, tmp_path / "saved", tasks=tasks, readout_tasks=("dominance",)),
                                 epochs=2, average_last=2)
    train(config, write=lambda line: None)
    train(dataclasses.replace(config, out=str(tmp_path / "trained"), select_on="trained"), write=lambda line: None)
    best = load_best_model(tmp_path / "saved")
    assert "dominance_pooling" not in {layer.name for layer in best.layers}
    last = keras.saving.load_model(RunPaths(tmp_path / "saved").last_model, compile=False)  # the trained model
    assert "dominance_pooling" in {layer.name for layer in last.layers}
    wave = np.random.default_rng(0).normal(size=(1, 8000)).astype(np.float32)
    out = best({"waveform": wave, "length": np.array([8000], np.int32)})
    head = load_config(tmp_path / "saved").model.emotion_classes  # the classes emodb_small labels
    assert out["emotion"].shape[-1] == len(head)
    membership = np.eye(3)[list(emotion_groups("dominance", head))]
    np.testing.assert_allclose(np.asarray(out["dominance"]), np.asarray(out["emotion"]) @ membership, rtol=1e-5)
    state = json.loads(RunPaths(tmp_path / "saved").state.read_text())
    dev = evaluate_run(tmp_path / "saved", "dev", write_report=False)
    assert np.mean([r["uar"] for r in dev["tasks"].values()]) == pytest.approx(state["best"], abs=1e-6)
    # picked on the trained heads: the same training (one seed trains alike), dominance scored by its own head
    saved, trained = metrics(tmp_path / "saved"), metrics(tmp_path / "trained")
    assert len(saved) == len(trained) == 2
    for a, b in zip(saved, trained):
        assert float(a["loss"]) == pytest.approx(float(b["loss"]), rel=1e-5)
        assert [a[f"val_uar_{t}"] for t in ("arousal", "valence", "emotion")] == [
            b[f"val_uar_{t}"] for t in ("arousal", "valence", "emotion")]
    last = keras.saving.load_model(RunPaths(tmp_path / "trained").last_model, compile=False)
    dev_set = make_dataset(select(read_corpus("manifest", emodb_small), "dev", tasks), tasks, 8, training=False)
    own = score(*predict(last, dev_set, tasks))["dominance"]["uar"]
    assert float(trained[-1]["val_uar_dominance"]) == pytest.approx(own, abs=1e-4)
