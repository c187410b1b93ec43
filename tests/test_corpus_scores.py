"""Leave-one-corpus-out figures summarised over runs (kerasser.evaluate.corpus_scores.held_out_summary) and
shown on a model card."""

from __future__ import annotations

import pytest

from kerasser.config import TrainConfig
from kerasser.evaluate.corpus_scores import held_out_summary
from kerasser.export.model_card import render


def loco(emodb_common: float, ravdess_common: float, centred: bool = True) -> dict:
    report = {"held_out": {"emodb": {"files": 535, "emotion_common": emodb_common, "arousal": 50.0},
                           "ravdess": {"files": 1440, "emotion_common": ravdess_common, "valence": 40.0}}}
    if centred:
        report["held_out_speaker_norm"] = {"emodb": {"files": 535, "emotion_common": emodb_common + 10}}
    return report


def test_means_and_sds_over_runs_per_corpus_and_score():
    summary = held_out_summary([loco(30.0, 40.0), loco(34.0, 44.0), loco(32.0, 48.0)])
    assert summary["runs"] == 3
    emodb = summary["held_out"]["emodb"]
    assert emodb["files"] == 535
    assert emodb["emotion_common"]["mean"] == pytest.approx(32.0)
    assert emodb["emotion_common"]["sd"] == pytest.approx((8 / 3) ** 0.5)  # population sd, as the benchmarks
    assert emodb["arousal"] == {"mean": 50.0, "sd": 0.0, "n": 3}
    assert summary["held_out"]["ravdess"]["emotion_common"]["mean"] == pytest.approx(44.0)
    assert summary["held_out_speaker_norm"]["emodb"]["emotion_common"]["mean"] == pytest.approx(42.0)


def test_centred_scores_only_when_every_run_has_them_and_other_reports_refused():
    summary = held_out_summary([loco(30.0, 40.0), loco(30.0, 40.0, centred=False)])
    assert "held_out_speaker_norm" not in summary
    with pytest.raises(ValueError, match="not a leave-one-corpus-out report"):
        held_out_summary([{"pooled": {"arousal": 50.0}}])
    with pytest.raises(ValueError, match="no leave-one-corpus-out report"):
        held_out_summary([])


def test_card_shows_the_recipes_held_out_figures():
    cross = held_out_summary([loco(30.0, 40.0), loco(34.0, 44.0)])
    config = TrainConfig(corpora=(("emodb", "e"), ("ravdess", "r")), out="runs/card")
    card = render({"name": "multi", "tasks": [], "cross_corpus": cross}, config, "x")
    assert "mean ± sd over 2 run(s)" in card
    assert "| held-out corpus | clips | emotion, 4-class common | arousal | valence |" in card
    assert "| emodb | 535 | 32.0 ± 2.0 | 50.0 ± 0.0 |  |" in card
    assert "| ravdess | 1440 | 42.0 ± 2.0 |  | 40.0 ± 0.0 |" in card
    assert "held-out corpus" not in render({"name": "m", "tasks": []}, config, "x")
