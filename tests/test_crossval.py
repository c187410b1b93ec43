"""kerasser.evaluate.crossval: fold plans, pooled UAR, and a real cross-validation of a tiny default-recipe
model over a few EmoDB clips (one epoch per fold); the CLI's options and output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from kerasser.evaluate.crossval import averaged_fold, crossval, make_folds, pooled_uar
from kerasser.training.recipes import build_train_config

# The default recipe in miniature.
TINY = dict(mel_bins=16, block_channels=(8,), block_dilations=(1,), gru_units=8, epochs=1, batch_size=8)


def test_loso_folds_hold_each_speaker_out_once():
    spk = [f"emodb:{s}" for s in ("03", "08", "09", "10", "11")]
    folds = make_folds(spk, "loso", dev_speakers=2, seed=0)
    assert [f.test for f in folds] == [(s,) for s in spk]
    for f in folds:
        assert len(f.dev) == 2 and len(f.train) == 2
        assert set(f.test) | set(f.dev) | set(f.train) == set(spk)
        assert not set(f.test) & set(f.dev) and not set(f.dev) & set(f.train)
    assert folds[0].name == "03"
    assert make_folds(spk, "loso", 2, seed=0) == folds  # seeded
    assert any(a.dev != b.dev for a, b in zip(folds, make_folds(spk, "loso", 2, seed=1)))


def test_k_folds_partition_the_speakers():
    spk = [f"c:{i}" for i in range(7)]
    folds = make_folds(spk, 3, dev_speakers=1, seed=0)
    tests = [s for f in folds for s in f.test]
    assert sorted(tests) == sorted(spk) and len(folds) == 3
    with pytest.raises(ValueError):
        make_folds(spk[:3], "loso", dev_speakers=2, seed=0)


def test_pooled_uar_sums_confusions():
    # fold 1: class 0 right twice; fold 2: class 1 once right, once wrong
    folds = [{"tasks": {"arousal": {"confusion": [[2, 0, 0], [0, 0, 0], [0, 0, 0]]}}},
             {"tasks": {"arousal": {"confusion": [[0, 0, 0], [1, 1, 0], [0, 0, 0]]}}}]
    assert np.isclose(pooled_uar(folds, "arousal"), 100 * (1.0 + 0.5) / 2)


def _fold_entry(probabilities, labels=(0, 1, 2, 2), speakers=("c:a", "c:a", "c:b", "c:b")):
    return {"fold": "a", "files": len(labels), "predictions": {"arousal": {
        "paths": [f"{i}.wav" for i in range(len(labels))], "speakers": list(speakers), "labels": list(labels),
        "predicted": np.argmax(probabilities, axis=1).tolist(), "probabilities": np.asarray(probabilities).tolist()}}}


def test_an_averaged_fold_scores_the_runs_mean_probabilities():
    """Two runs that each get one clip wrong agree once averaged (the ensemble's answer); the
    speaker-normalised scores centre each speaker's mean log-probability, as fold_scores does."""
    from kerasser.evaluate.speaker_norm import normalise_by_speaker

    a = [[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.1, 0.1, 0.8], [0.2, 0.2, 0.6]]  # clip 1 wrong
    b = [[0.9, 0.1, 0.0], [0.0, 1.0, 0.0], [0.2, 0.5, 0.3], [0.0, 0.0, 1.0]]  # clip 2 wrong
    fold = averaged_fold([_fold_entry(a), _fold_entry(b)])
    mean = (np.asarray(a) + np.asarray(b)) / 2
    assert fold["predictions"]["arousal"]["predicted"] == [0, 1, 2, 2]
    np.testing.assert_allclose(fold["predictions"]["arousal"]["probabilities"], mean, atol=1e-6)
    assert fold["tasks"]["arousal"]["uar"] == 100.0
    assert fold["tasks"]["arousal"]["confusion"] == [[1, 0, 0], [0, 1, 0], [0, 0, 2]]
    normed = normalise_by_speaker(mean, ["c:a", "c:a", "c:b", "c:b"]).argmax(1)
    confusion = np.zeros((3, 3), int)
    np.add.at(confusion, ([0, 1, 2, 2], normed), 1)
    assert fold["speaker_norm"]["arousal"]["confusion"] == confusion.tolist()
    assert fold["fold"] == "a" and fold["files"] == 4
    # pooled like any fold
    assert pooled_uar([fold], "arousal") == 100.0


def test_an_averaged_fold_needs_the_same_clips_and_their_predictions():
    p = [[1.0, 0.0, 0.0]] * 4
    with pytest.raises(ValueError, match="other arousal clips"):
        averaged_fold([_fold_entry(p), _fold_entry(p, labels=(0, 1, 2, 1))])
    with pytest.raises(ValueError, match="predictions"):
        averaged_fold([_fold_entry(p), {"fold": "a", "files": 4}])


@pytest.mark.slow
def test_crossval_on_real_clips(emodb_small, tmp_path):
    config = build_train_config(corpora=(("manifest", str(emodb_small)),), out=str(tmp_path / "cv"),
                                tasks=("arousal", "emotion"), **TINY)
    # ``only`` trains some folds (to spread them over processes); the report comes once all are done
    assert crossval(config, folds=3, dev_speakers=1, write=lambda line: None, only=[1, 2]) is None
    summary = crossval(config, folds=3, dev_speakers=1, write=lambda line: None, only=[0])
    assert summary is not None and len(summary["folds"]) == 3
    assert sorted(f["fold"] for f in summary["folds"]) == ["1", "2", "3"]  # one call's plan
    tested = [s for f in summary["folds"] for s in f["test"]]
    assert len(tested) == len(set(tested))
    assert sum(f["files"] for f in summary["folds"]) == 24  # every clip scored exactly once
    for t in ("arousal", "emotion"):
        assert 0.0 <= summary["pooled"][t] <= 100.0
        total = sum(np.sum(f["tasks"][t]["confusion"]) for f in summary["folds"])
        assert total == 24
        normed = [{"tasks": f["speaker_norm"]} for f in summary["folds"]]
        assert sum(np.sum(f["tasks"][t]["confusion"]) for f in normed) == 24
        assert summary["pooled_speaker_norm"][t] == pooled_uar(normed, t)
    for f in summary["folds"]:  # the kept probabilities re-scored alone give the fold's own figures
        again = averaged_fold([f])
        assert again["tasks"] == f["tasks"] and again["speaker_norm"] == f["speaker_norm"]
        assert again["predictions"]["arousal"]["predicted"] == f["predictions"]["arousal"]["predicted"]
    saved = json.loads((tmp_path / "cv" / "crossval.json").read_text())
    assert saved["pooled"] == summary["pooled"]
    fold_config = json.loads((tmp_path / "cv" / f"fold-{summary['folds'][0]['fold']}" / "config.json").read_text())
    assert [s[0] for s in fold_config["speaker_splits"]] == ["train", "dev", "test"]
    # a second call reuses the finished folds instead of training again
    again = crossval(config, folds=3, dev_speakers=1, write=lambda line: None)
    assert again["pooled"] == summary["pooled"]


def test_crossval_cli(emodb_small, tmp_path, monkeypatch):
    """The command builds the train options' config, passes the fold settings on and prints the
    summary on stdout (the cross-validation itself is the library's, run on real clips above)."""
    from kerasser_cli.main import cli

    import kerasser.evaluate.crossval

    calls = []
    summary = {"folds": [{"fold": str(i), "tasks": {"arousal": {"uar": 50.0 + i}}} for i in (1, 2)],
               "fold_mean": {"arousal": 51.5}, "pooled": {"arousal": 51.0},
               "pooled_speaker_norm": {"arousal": 55.0}}

    def fake_crossval(config, folds, dev_speakers):
        calls.append((config, folds, dev_speakers))
        return summary

    monkeypatch.setattr(kerasser.evaluate.crossval, "crossval", fake_crossval)
    result = CliRunner().invoke(cli, [
        "crossval", "--corpus", "manifest", "--data", str(emodb_small), "--tasks", "a", "--folds", "2",
        "--dev-speakers", "1", "--epochs", "1", "--batch-size", "8", "--recipe", "paper",
        "--out", str(tmp_path / "cv"),
    ])
    assert result.exit_code == 0, result.output
    [(config, folds, dev_speakers)] = calls
    assert (folds, dev_speakers) == (2, 1)
    assert config == build_train_config("paper", corpora=(("manifest", str(emodb_small)),), out=str(tmp_path / "cv"),
                                        tasks=("arousal",), epochs=1, batch_size=8)
    assert result.output.endswith(kerasser.evaluate.crossval.format_summary(summary) + "\n")
    assert "centred on the speaker's mean" in result.output
    bad = CliRunner().invoke(cli, ["crossval", "--corpus", "manifest", "--data", str(emodb_small), "--folds", "x",
                                   "--out", str(tmp_path / "cv2")])
    assert bad.exit_code == 2 and "loso" in bad.output
