"""Speaker-level feature normalisation (feature_norm "speaker"): the per-speaker means, the model's
reference input (the own mean as reference is sentence mean normalisation), training and scoring
on real EmoDB clips, and the waveform-only consumers refusing such a model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from kerasser.config import AudioConfig, ModelConfig, TrainConfig
from kerasser.data.corpora import read_corpus, select, speaker_key
from kerasser.data.dataset import decoded
from kerasser.data.examples import ExampleSettings
from kerasser.errors import SettingsError
from kerasser.evaluate.run import evaluate_run
from kerasser.evaluate.saliency import logit_model
from kerasser.model.network import REFERENCE, build_model, inference_model
from kerasser.model.speaker_reference import clip_statistics, drawn_means, speaker_means, uses_reference
from kerasser.training.ensemble import build_ensemble
from kerasser.training.loop import train
from kerasser.training.runs import load_best_model

SPEAKER_MODEL = ModelConfig(
    tasks=("arousal", "valence"), frontend="logmel", audio=AudioConfig(frame_length=400), mel_bins=16,
    block_channels=(8,), block_dilations=(1,), block_kernel=3, gru_units=8, gru_layers=1, l2=0.0, dropout=0.0,
    mel_trainable=False, feature_norm="speaker",
)


def test_speaker_means_match_numpy(rng):
    sums = rng.normal(size=(5, 3))
    counts = np.array([10.0, 4.0, 0.0, 6.0, 2.0])
    speakers = ["a", "b", "a", "b", "c"]
    means = speaker_means(speakers, sums, counts)
    np.testing.assert_allclose(means[0], (sums[0] + sums[2]) / 10.0, rtol=1e-6)
    np.testing.assert_allclose(means[1], (sums[1] + sums[3]) / 10.0, rtol=1e-6)
    np.testing.assert_array_equal(means[0], means[2])
    np.testing.assert_allclose(means[4], sums[4] / 2.0, rtol=1e-6)
    with pytest.raises(ValueError, match="3 speakers for 5"):
        speaker_means(speakers[:3], sums, counts)


def test_drawn_means_average_the_clip_and_others_of_its_speaker(rng):
    sums = rng.normal(size=(6, 3))
    counts = np.array([10.0, 4.0, 5.0, 6.0, 2.0, 3.0])
    speakers = ["a", "a", "a", "b", "b", "c"]
    own = drawn_means(speakers, sums, counts, 1, np.random.default_rng(0))
    np.testing.assert_allclose(own, sums / counts[:, None], rtol=1e-6)
    # more clips than a speaker has: every clip of the speaker, as speaker_means
    every = drawn_means(speakers, sums, counts, 10, np.random.default_rng(0))
    np.testing.assert_allclose(every, speaker_means(speakers, sums, counts), rtol=1e-6)
    pairs = drawn_means(speakers, sums, counts, 2, np.random.default_rng(1))
    for i in range(3):  # speaker a: clip i and one of the other two
        candidates = [(sums[i] + sums[j]) / (counts[i] + counts[j]) for j in range(3) if j != i]
        assert any(np.allclose(pairs[i], c, rtol=1e-6) for c in candidates)
    np.testing.assert_allclose(pairs[3], (sums[3] + sums[4]) / 8.0, rtol=1e-6)
    np.testing.assert_allclose(pairs[5], sums[5] / 3.0, rtol=1e-6)  # speaker c has one clip
    np.testing.assert_array_equal(pairs, drawn_means(speakers, sums, counts, 2, np.random.default_rng(1)))
    with pytest.raises(ValueError, match="at least 1"):
        drawn_means(speakers, sums, counts, 0, np.random.default_rng(0))


def test_speaker_normalisation_needs_a_fixed_log_mel_filterbank():
    with pytest.raises(SettingsError, match="fixed filterbank"):
        dataclasses.replace(SPEAKER_MODEL, mel_trainable=True)
    with pytest.raises(SettingsError, match="log-mel front end"):
        ModelConfig(frontend="shared", feature_norm="speaker")


def test_own_mean_as_reference_gives_the_sentence_mean_model(rng):
    """With each clip's own mean log mel as its reference, the speaker model computes exactly what
    the same weights compute with sentence mean normalisation."""
    speaker = build_model(SPEAKER_MODEL)
    sentence = build_model(dataclasses.replace(SPEAKER_MODEL, feature_norm="mean"))
    assert uses_reference(speaker) and not uses_reference(sentence)
    assert speaker.input[REFERENCE].shape == (None, 16)
    sentence.set_weights(speaker.get_weights())
    lengths = np.array([16000, 9000, 3000], np.int32)
    waves = np.zeros((3, 16000), np.float32)
    for i, n in enumerate(lengths):
        waves[i, :n] = rng.normal(scale=0.1 * (i + 1), size=n)
    examples = tf.data.Dataset.from_tensor_slices(({"waveform": waves, "length": lengths},))
    sums, counts = clip_statistics(speaker, examples.map(lambda inputs: (inputs, {}, {})))
    np.testing.assert_array_equal(counts, [SPEAKER_MODEL.audio.num_frames(int(n)) for n in lengths])
    own = (sums / counts[:, None]).astype(np.float32)
    inputs = {"waveform": waves, "length": lengths}
    got = speaker({**inputs, REFERENCE: own}, training=False)
    want = sentence(inputs, training=False)
    for task in SPEAKER_MODEL.tasks:
        np.testing.assert_allclose(np.asarray(got[task]), np.asarray(want[task]), atol=1e-5)
    shifted = speaker({**inputs, REFERENCE: own + 3.0}, training=False)  # the reference is used
    assert not np.allclose(np.asarray(shifted["arousal"]), np.asarray(got["arousal"]), atol=1e-4)


def test_waveform_only_consumers_refuse_a_speaker_model():
    model = build_model(SPEAKER_MODEL)
    assert REFERENCE in inference_model(model).input  # export and labelling give it its reference
    with pytest.raises(SettingsError, match="normalises by speaker.*ensembles take waveform-only"):
        build_ensemble([model, build_model(SPEAKER_MODEL)])
    with pytest.raises(SettingsError, match="saliency maps take waveform-only"):
        logit_model(model)


@pytest.mark.slow
def test_train_and_score_with_speaker_references(emodb_small, tmp_path):
    config = TrainConfig(
        corpora=(("manifest", str(emodb_small)),), out=str(tmp_path / "run"), model=SPEAKER_MODEL,
        epochs=1, batch_size=8, learning_rate=1e-3,
    )
    result = train(config, write=lambda line: None)
    assert np.isfinite(result.best_dev_uar)
    model = load_best_model(tmp_path / "run")
    assert uses_reference(model)
    report = evaluate_run(tmp_path / "run", split="test", write_report=False)
    assert report["files"] == 6 and set(report["tasks"]) == {"arousal", "valence"}
    assert all(0.0 <= r["uar"] <= 100.0 for r in report["tasks"].values())
    # each scored clip's reference is its speaker's mean over the scored clips: the same predictions by hand
    test = select(read_corpus("manifest", str(emodb_small)), "test", ("arousal", "valence"))
    assert len({speaker_key(u) for u in test}) == 2
    examples = decoded(test, ExampleSettings(("arousal", "valence"), 16000))
    sums, counts = clip_statistics(model, examples)
    references = speaker_means([speaker_key(u) for u in test], sums, counts)
    assert not np.allclose(references[0], sums[0] / counts[0])  # a speaker's mean, not the clip's own
    for i, (inputs, _, _) in enumerate(examples):
        batch = {k: np.asarray(v)[None] for k, v in inputs.items()}
        out = model({**batch, REFERENCE: references[i:i + 1]}, training=False)
        for task in ("arousal", "valence"):
            assert report["predictions"][task]["paths"][i] == test[i].path
            assert report["predictions"][task]["predicted"][i] == int(np.argmax(out[task][0]))
    # references="clip": each clip's own mean, no other clip used
    own = evaluate_run(tmp_path / "run", split="test", write_report=False, references="clip")
    assert report["references"] == "speaker" and own["references"] == "clip"
    for i, (inputs, _, _) in enumerate(examples):
        batch = {k: np.asarray(v)[None] for k, v in inputs.items()}
        reference = (sums[i] / counts[i]).astype(np.float32)[None]
        out = model({**batch, REFERENCE: reference}, training=False)
        for task in ("arousal", "valence"):
            assert own["predictions"][task]["predicted"][i] == int(np.argmax(out[task][0]))
    with pytest.raises(SettingsError, match="unknown references"):
        evaluate_run(tmp_path / "run", split="test", write_report=False, references="corpus")
