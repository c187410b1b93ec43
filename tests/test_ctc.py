"""The CTC auxiliary task (Cai et al., 2021) on tiny models: the loss falls when two utterances
are overfitted, training writes the head and its loss, and served models leave it out."""

from __future__ import annotations

import csv
import dataclasses
import json

import keras
import numpy as np
import pytest

from kerasser.config import AudioConfig, AugmentConfig, ModelConfig, TrainConfig
from kerasser.errors import SettingsError
from kerasser.model.network import build_model, compile_model, inference_model, with_attention_outputs
from kerasser.text import encode, greedy_decode
from kerasser.training.runs import RunPaths

TINY_LOGMEL = ModelConfig(
    tasks=("arousal",), frontend="logmel", audio=AudioConfig(frame_length=400), mel_bins=16,
    block_channels=(16,), block_dilations=(1,), block_kernel=3, gru_units=16, gru_layers=1,
    bidirectional=True, recurrent_stride=2, l2=0.0, dropout=0.0, ctc_weight=1.0,
)


def two_utterances(rng):
    """Two 0.5 s signals (a rising and a falling tone) with the transcripts "ab" and "ba"."""
    t = np.arange(8000) / 16000
    up = np.sin(2 * np.pi * (200 + 1500 * t) * t)
    down = np.sin(2 * np.pi * (1700 - 1500 * t) * t)
    waves = np.stack([up, down]).astype(np.float32) * 0.3 + rng.normal(0, 0.01, (2, 8000)).astype(np.float32)
    targets = np.array([encode("ab"), encode("ba")], np.int32)
    inputs = {"waveform": waves, "length": np.array([8000, 8000], np.int32)}
    labels = {"arousal": np.array([0, 2], np.int32), "transcript": targets}
    return inputs, labels


@pytest.mark.slow  # measured over 5 s on 2 busy cores (--durations)
def test_ctc_loss_falls_when_overfitting_two_utterances(rng):
    keras.utils.set_random_seed(0)
    model = build_model(TINY_LOGMEL)
    compile_model(model, {"arousal": 1.0, "transcript": 1.0}, 3e-3)
    inputs, labels = two_utterances(rng)
    history = model.fit(inputs, labels, epochs=150, batch_size=2, verbose=0)
    losses = history.history["transcript_loss"]
    assert np.all(np.isfinite(losses))
    assert losses[-1] < 0.25 * losses[0]
    out = model.predict(inputs, verbose=0)["transcript"]
    assert out.shape[:2] == (2, 25)  # 0.5 s: 48 frames of 10 ms, two per step
    assert [greedy_decode(o) for o in out] == ["ab", "ba"]


def test_served_models_leave_the_head_out_unless_asked():
    model = build_model(TINY_LOGMEL)
    assert sorted(model.output) == ["arousal", "transcript"]
    assert sorted(inference_model(model).output) == ["arousal"]
    assert sorted(with_attention_outputs(inference_model(model)).output) == ["arousal", "arousal_attention"]
    served = with_attention_outputs(inference_model(model, transcript=True))
    assert sorted(served.output) == ["arousal", "arousal_attention", "transcript"]


def test_crops_and_ctc_do_not_mix():
    with pytest.raises(SettingsError, match="crops"):
        TrainConfig(corpora=(), out="x", model=TINY_LOGMEL, augment=AugmentConfig(crop_prob=0.5))


@pytest.mark.slow
def test_training_with_a_ctc_weight_on_emodb(emodb_small, tmp_path):
    from kerasser.training.loop import train

    config = TrainConfig(
        corpora=(("manifest", str(emodb_small)),), out=str(tmp_path / "run"),
        model=dataclasses.replace(TINY_LOGMEL, tasks=("arousal", "emotion"), ctc_weight=0.1),
        epochs=1, batch_size=8, learning_rate=1e-3,
    )
    lines = []
    train(config, write=lines.append)
    assert any("CTC auxiliary loss (weight 0.1): 12 of 12" in line for line in lines)
    with open(RunPaths(tmp_path / "run").metrics) as f:
        row = next(csv.DictReader(f))
    assert np.isfinite(float(row["transcript_loss"])) and float(row["transcript_loss"]) > 0
    model = keras.saving.load_model(RunPaths(tmp_path / "run").best_model, compile=False)
    assert "transcript" in model.output and "transcript" not in inference_model(model).output
    from kerasser.evaluate.run import evaluate_run

    report = evaluate_run(tmp_path / "run", "test")
    transcript = report["transcript"]
    assert transcript["utterances"] == 6 and 0.0 <= transcript["cer"] and transcript["examples"]

    from kerasser.export.exporter import export_run
    from kerasser.export.tflite import custom_ops, operator_names
    from kerasser.serve.labeling import Labeler

    # exported without --with-transcript, the model is inference_model(model) (asserted above: no
    # transcript output); Labeler refusing transcribe=True then: tests/test_label_cli.py
    export_run(tmp_path / "run", tmp_path / "speaking", write=lambda line: None, with_transcript=True)
    metadata = json.loads((tmp_path / "speaking" / "metadata.json").read_text())
    assert "Also serves `transcript`" in (tmp_path / "speaking" / "MODEL_CARD.md").read_text()
    assert metadata["transcript"]["frames_per_step"] == 2 and metadata["transcript"]["alphabet"]
    content = (tmp_path / "speaking" / "model.tflite").read_bytes()
    assert custom_ops(content) == [] and "LOG_SOFTMAX" in operator_names(content)
    labeler = Labeler.load(tmp_path / "speaking", transcribe=True)
    prediction = labeler.predict(np.zeros(16000, np.float32) + 0.01, sample_rate=16000)
    assert isinstance(prediction["text"], str) and "emotion" in prediction


@pytest.mark.slow
def test_training_with_mixup_a_ctc_weight_and_a_speaker_adversary(emodb_small, tmp_path):
    """Mixed batches keep each transcript and speaker label of the larger part: all losses train."""
    from kerasser.training.loop import train

    config = TrainConfig(
        corpora=(("manifest", str(emodb_small)),), out=str(tmp_path / "run"),
        model=dataclasses.replace(TINY_LOGMEL, tasks=("arousal", "emotion"), ctc_weight=0.1, speaker_adversarial=0.5),
        augment=AugmentConfig(mixup_alpha=0.4), epochs=1, batch_size=8, learning_rate=1e-3,
    )
    train(config, write=lambda line: None)
    with open(RunPaths(tmp_path / "run").metrics) as f:
        row = next(csv.DictReader(f))
    for loss in ("loss", "transcript_loss", "speaker_loss", "emotion_loss"):
        assert np.isfinite(float(row[loss])) and float(row[loss]) > 0, loss
