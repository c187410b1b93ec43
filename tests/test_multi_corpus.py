"""Training, evaluation and leave-one-corpus-out on two real corpora with different classes
(EmoDB clips through a manifest, RAVDESS clips through its reader): tiny models, one epoch."""

from __future__ import annotations

import dataclasses
import json

import pytest
from tiny import TINY  # noqa: E402

from kerasser.config import AugmentConfig, ModelConfig, TrainConfig
from kerasser.evaluate.crossval import crossval
from kerasser.evaluate.run import evaluate_run
from kerasser.tasks import EMOTION
from kerasser.training.loop import train
from kerasser.training.runs import RunPaths, load_best_model, load_config


@pytest.fixture(scope="module")
def ravdess_small(shared_data, tmp_path_factory):
    """A RAVDESS folder of 18 real clips: actors 01 (train), 17 (dev), 21 (test), six emotions each
    (calm and surprise, which EmoDB lacks, among them), linked from the shared copy."""
    root = tmp_path_factory.mktemp("ravdess_small")
    for actor in ("01", "17", "21"):
        folder = root / f"Actor_{actor}"
        folder.mkdir()
        for emotion in ("01", "02", "03", "04", "05", "08"):
            name = f"03-01-{emotion}-01-01-01-{actor}.flac"
            (folder / name).symlink_to(shared_data / "ravdess" / f"Actor_{actor}" / name)
    return root


def config_of(emodb_small, ravdess_small, out, **train_fields):
    return TrainConfig(
        corpora=(("manifest", str(emodb_small)), ("ravdess", str(ravdess_small))),
        out=str(out), model=ModelConfig(tasks=("arousal", "emotion"), **TINY), epochs=1, batch_size=8,
        learning_rate=1e-3, class_balanced=True, balance_corpora=True, augment=AugmentConfig(mixup_alpha=0.4),
        **train_fields,
    )


@pytest.fixture(scope="module")
def two_corpus_run(emodb_small, ravdess_small, tmp_path_factory):
    """One tiny run on both corpora (class- and corpus-balanced, mixup, a corpus adversary): its
    folder and its progress lines."""
    out = tmp_path_factory.mktemp("two_corpora") / "run"
    config = config_of(emodb_small, ravdess_small, out)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, speaker_adversarial=0.3,
                                                                   adversary="corpus"))
    lines = []
    train(config, write=lines.append)
    return out, lines


@pytest.mark.slow
def test_two_corpora_train_into_one_head_and_score_apart(two_corpus_run):
    run, lines = two_corpus_run
    head = load_config(run).model.emotion_classes
    assert set(head) >= {"calm", "surprise", "anger"} and head == tuple(c for c in EMOTION.classes if c in head)
    masked = [line for line in lines if line.startswith("emotion classes masked per corpus: ")]
    assert len(masked) == 1 and "calm, surprise" in masked[0].split("manifest ")[1]  # EmoDB's clips lack them
    assert load_best_model(run).output["emotion"].shape[-1] == len(head)
    report = evaluate_run(run, "test", write_report=False)
    assert set(report["per_corpus"]) == {"manifest", "ravdess"}
    assert {"emotion", "emotion_common", "arousal"} <= set(report["per_corpus"]["ravdess"])
    assert report["per_corpus"]["ravdess"]["files"] == 6
    assert len(report["tasks"]["emotion"]["confusion"]) == len(EMOTION.classes)  # vocabulary order


@pytest.mark.slow
def test_corpus_adversarial_training(two_corpus_run):
    """--speaker-adversarial W --adversary corpus: a gradient-reversed classifier of the two corpora
    (training only: exports leave it out, as they leave out the speaker adversary)."""
    run, _ = two_corpus_run
    assert load_config(run).model.speakers == 2
    assert load_best_model(run).output["speaker"].shape[-1] == 2


@pytest.mark.slow
def test_leave_one_corpus_out_scores_every_clip_of_the_held_out_corpus(emodb_small, ravdess_small, tmp_path):
    config = dataclasses.replace(config_of(emodb_small, ravdess_small, tmp_path / "loco"), augment=AugmentConfig())
    summary = crossval(config, folds="corpus", write=lambda line: None)
    assert sorted(summary["held_out"]) == ["manifest", "ravdess"]
    assert summary["held_out"]["ravdess"]["files"] == 18  # all of it, every split
    assert summary["held_out"]["manifest"]["files"] == 24
    # the same clips with each speaker's predictions centred (transductive), beside the plain scores
    assert sorted(summary["held_out_speaker_norm"]) == ["manifest", "ravdess"]
    assert summary["held_out_speaker_norm"]["ravdess"]["files"] == 18
    assert set(summary["held_out_speaker_norm"]["ravdess"]) == set(summary["held_out"]["ravdess"])
    fold = json.loads((tmp_path / "loco" / "fold-ravdess" / "fold_report.json").read_text())
    # trained on EmoDB alone: its head has no calm, and RAVDESS' calm clips still count (always wrong)
    assert "calm" not in load_config(tmp_path / "loco" / "fold-ravdess").model.emotion_classes
    calm = fold["tasks"]["emotion"]["confusion"][EMOTION.index("calm")]
    assert sum(calm) == 3 and calm[EMOTION.index("calm")] == 0
    assert RunPaths(tmp_path / "loco" / "fold-manifest").best_model.exists()
    # a fold stopped before its report resumes: its config.json (the head fitted to its data) is its own
    (tmp_path / "loco" / "fold-ravdess" / "fold_report.json").unlink()
    again = crossval(config, folds="corpus", write=lambda line: None)
    assert again["held_out"]["ravdess"] == summary["held_out"]["ravdess"]


@pytest.mark.slow
def test_fine_tuning_starts_from_a_trained_model_and_freezes_the_encoder(two_corpus_run, ravdess_small, tmp_path):
    """--init-from: the layers that match take the trained weights (the emotion head, over other
    classes, is made anew); --freeze encoder keeps them through training."""
    import numpy as np

    source, _ = two_corpus_run
    lines = []
    tuned = TrainConfig(corpora=(("ravdess", str(ravdess_small)),), out=str(tmp_path / "tuned"),
                        model=ModelConfig(tasks=("arousal", "emotion"), **TINY), epochs=1, batch_size=8,
                        learning_rate=1e-2, init_from=str(source), freeze="encoder")
    train(tuned, write=lines.append)
    before, after = load_best_model(source), load_best_model(tmp_path / "tuned")
    assert any(line.startswith("initialised from ") and "new: emotion" in line for line in lines)
    for name in ("gru1", "standardize"):
        for a, b in zip(before.get_layer(name).get_weights(), after.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    moved = [np.abs(a - b).max() for a, b in zip(before.get_layer("arousal").get_weights(),
                                                  after.get_layer("arousal").get_weights())]
    assert max(moved) > 0  # the heads train
    assert after.output["emotion"].shape[-1] != before.output["emotion"].shape[-1]
