"""kerasser.training.ensemble: the averaged model, its save/load, its run folder, and its export."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest

from kerasser.config import AudioConfig, ModelConfig
from kerasser.model.network import build_model, with_attention_outputs
from kerasser.training.ensemble import build_ensemble, make_ensemble_run

TINY = ModelConfig(tasks=("arousal", "emotion"), frontend="logmel", audio=AudioConfig(frame_length=400), mel_bins=8,
                   block_channels=(4,), block_dilations=(1,), block_kernel=3, gru_units=4, gru_layers=1,
                   pool_statistics=True, l2=0.0)


def members(n=2):
    out = []
    for seed in range(n):
        keras.utils.set_random_seed(seed)
        out.append(build_model(TINY))
    return out


def inputs(rng, n=2400):
    return {"waveform": rng.normal(size=(1, n)).astype(np.float32), "length": np.array([n], np.int32)}


def test_outputs_are_the_members_mean(rng, tmp_path):
    models = members()
    ensemble = build_ensemble(models)
    x = inputs(rng)
    got = {k: np.asarray(v) for k, v in ensemble(x, training=False).items()}
    probes = [with_attention_outputs(m)(x, training=False) for m in models]
    assert sorted(got) == ["arousal", "arousal_attention", "emotion", "emotion_attention"]
    for key, value in got.items():
        np.testing.assert_allclose(value, np.mean([np.asarray(p[key]) for p in probes], axis=0), atol=1e-6)
    np.testing.assert_allclose(got["emotion"].sum(), 1.0, atol=1e-5)
    assert with_attention_outputs(ensemble) is ensemble
    ensemble.save(tmp_path / "e.keras")
    loaded = keras.saving.load_model(tmp_path / "e.keras", compile=False)
    for key, value in loaded(x, training=False).items():
        np.testing.assert_allclose(np.asarray(value), got[key], atol=1e-6)


def test_members_must_agree():
    other = build_model(dataclasses.replace(TINY, tasks=("arousal",)))
    with pytest.raises(ValueError, match="different tasks"):
        build_ensemble([members(1)[0], other])
    with pytest.raises(ValueError, match="at least two"):
        build_ensemble(members(1))


@pytest.mark.slow
def test_ensemble_run_evaluates_and_exports(emodb_small, tmp_path):
    from kerasser.evaluate.run import evaluate_run
    from kerasser.export import export_run
    from kerasser.training.loop import train
    from kerasser.training.recipes import build_train_config

    runs = []
    for seed in (0, 1):
        config = build_train_config(corpora=(("manifest", str(emodb_small)),), out=str(tmp_path / f"s{seed}"),
                                    tasks=("arousal",), mel_bins=8, block_channels=(4,), block_dilations=(1,),
                                    gru_units=4, epochs=1, batch_size=8, seed=seed)
        train(config, write=lambda line: None)
        runs.append(tmp_path / f"s{seed}")
    out = make_ensemble_run(runs, tmp_path / "ens")
    report = evaluate_run(out, "test")
    assert report["files"] == 6 and 0 <= report["tasks"]["arousal"]["uar"] <= 100
    # the members' kept probabilities, averaged without the models, score as the ensemble model does
    from kerasser.evaluate.crossval import averaged_fold, fold_scores

    members = [{"fold": "test", **fold_scores(r)} for r in runs]
    ensemble = {"fold": "test", **fold_scores(out)}
    averaged = averaged_fold(members)
    np.testing.assert_allclose(averaged["predictions"]["arousal"]["probabilities"],
                               ensemble["predictions"]["arousal"]["probabilities"], atol=1e-5)
    assert averaged["tasks"] == ensemble["tasks"] and averaged["speaker_norm"] == ensemble["speaker_norm"]
    export_run(out, tmp_path / "exported", quantize=(), write=lambda line: None)
    assert (tmp_path / "exported" / "model.tflite").exists()
