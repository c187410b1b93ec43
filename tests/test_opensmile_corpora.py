"""benchmarks/opensmile_corpora.py's scoring logic, on tiny synthetic arrays (no audio, no opensmile)."""

from __future__ import annotations

import numpy as np
import pytest
from benchmark_scripts import load_benchmark  # tests/benchmark_scripts.py
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from kerasser.data.corpora import Utterance
from kerasser.tasks import COMMON_EMOTIONS, EMOTION, EMOTION_LEVELS, TASKS

bench = load_benchmark("opensmile_corpora")
ANGER, BOREDOM, HAPPINESS, SADNESS, NEUTRAL, CALM = (
    EMOTION.index(c) for c in ("anger", "boredom", "happiness", "sadness", "neutral", "calm"))
EMOTION_ALL = tuple(range(EMOTION.num_classes))


def test_restricted_argmax_picks_the_best_allowed_class():
    classes = [ANGER, BOREDOM, HAPPINESS, CALM]  # an SVM's classes_ (vocabulary indices)
    scores = np.array([[0.1, 3.0, 0.2, 0.0],   # boredom best overall, happiness best allowed
                       [2.0, 1.0, 0.5, 5.0],   # calm best overall, anger best allowed
                       [0.0, 0.0, 0.0, 0.0]])  # a tie: the first allowed column
    assert bench.restricted_argmax(scores, classes, bench.COMMON).tolist() == [HAPPINESS, ANGER, ANGER]
    assert bench.restricted_argmax(scores, classes, classes).tolist() == [BOREDOM, CALM, ANGER]
    # a binary SVM's 1-D decision: positive means classes[1]
    assert bench.restricted_argmax(np.array([-1.0, 2.0]), [ANGER, SADNESS], bench.COMMON).tolist() == [ANGER, SADNESS]
    with pytest.raises(ValueError):
        bench.restricted_argmax(scores, classes, [SADNESS, NEUTRAL])


def test_predict_within_restricts_a_fitted_svm():
    rng = np.random.default_rng(0)
    labels = np.repeat([ANGER, BOREDOM, HAPPINESS, CALM], 10)
    x = rng.normal(size=(40, 3)) + labels[:, None]
    model = SVC(kernel="linear", class_weight="balanced").fit(x, labels)
    # every class allowed: the SVM's own prediction (opensmile_peer.py's)
    assert (bench.predict_within(model, x, EMOTION_ALL) == model.predict(x)).all()
    common = bench.predict_within(model, x, bench.COMMON)
    assert set(common) <= {ANGER, HAPPINESS}  # the SVM's classes among the four
    assert (common[labels == HAPPINESS] == HAPPINESS).mean() > 0.5
    decision = model.decision_function(x)[:, [0, 2]]
    assert (common == np.where(decision[:, 0] >= decision[:, 1], ANGER, HAPPINESS)).all()


def test_corpus_standardised_uses_each_corpus_own_statistics():
    x = np.array([[1.0, 10.0], [100.0, -5.0], [3.0, 30.0], [300.0, 5.0], [5.0, 20.0]])
    corpora = ["a", "b", "a", "b", "a"]
    out = bench.corpus_standardised(x, corpora)
    for c in "ab":
        rows = np.asarray(corpora) == c
        assert np.allclose(out[rows].mean(axis=0), 0.0)
        assert np.allclose(out[rows].std(axis=0), 1.0)
        assert np.allclose(out[rows], StandardScaler().fit_transform(x[rows]))
    assert np.allclose(out[[0, 2, 4], 0], [-np.sqrt(1.5), 0.0, np.sqrt(1.5)])


def test_common_uar_counts_only_the_four_common_classes():
    assert COMMON_EMOTIONS == ("anger", "happiness", "sadness", "neutral")
    y = np.array([ANGER, ANGER, HAPPINESS, SADNESS, NEUTRAL, BOREDOM, CALM])
    predicted = np.array([ANGER, HAPPINESS, HAPPINESS, SADNESS, NEUTRAL, ANGER, ANGER])
    assert bench.common_uar(y, predicted) == pytest.approx(100.0 * (0.5 + 1 + 1 + 1) / 4)


def test_scored_leaves_emotion_blank_when_the_svm_lacks_a_class():
    def utt(i, emotion, split):
        return Utterance(path=f"/x/{i}.wav", speaker="1", split=split, labels={"emotion": emotion}, corpus="emodb")

    labels = [ANGER, HAPPINESS, SADNESS, NEUTRAL, BOREDOM] * 2
    utterances = [utt(i, e, "test") for i, e in enumerate(labels)]
    x = np.eye(5)[np.arange(10) % 5] * 5.0
    train = [ANGER, HAPPINESS, SADNESS, NEUTRAL, CALM]  # no boredom: a RAVDESS-like SVM
    model = SVC(kernel="linear").fit(np.eye(5) * 5.0, train)
    fit = (StandardScaler(with_mean=False, with_std=False).fit(x), model, 1.0)
    cells = bench.scored(fit, {"emodb": (utterances, x)}, "emodb", "emotion", "all")
    assert "emotion" not in cells
    assert cells["common"] == "100.0 (C 1)"


def test_table_has_every_setting_and_corpus(monkeypatch):
    """The whole table on three tiny synthetic corpora (features that carry the emotion)."""
    monkeypatch.setattr(bench.peer, "C_GRID", (1.0,))  # one C: fast
    rng = np.random.default_rng(1)
    emotions = {"emodb": ("anger", "boredom", "disgust", "fear", "happiness", "sadness", "neutral"),
                "ravdess": ("anger", "disgust", "fear", "happiness", "sadness", "neutral", "calm", "surprise")}
    data = {}
    for corpus, names in emotions.items():
        utterances = []
        for i in range(3 * 2 * len(names)):  # 3 speakers (one per split), 2 clips of each emotion
            name, speaker = names[i % len(names)], str(i // (2 * len(names)))
            labels = {"emotion": EMOTION.index(name)}
            if name not in ("calm", "surprise"):
                levels = dict(zip(("arousal", "valence", "dominance"), EMOTION_LEVELS[name], strict=True))
                labels.update({t: TASKS[t].index(level) for t, level in levels.items()})
            utterances.append(Utterance(path=f"/{corpus}/{i}.wav", speaker=speaker, labels=labels, corpus=corpus,
                                        split=("train", "dev", "test")[int(speaker)]))
        x = np.eye(9)[[u.labels["emotion"] for u in utterances]] * 3 + rng.normal(size=(len(utterances), 9))
        data[corpus] = (utterances, x)
    baved = [Utterance(path=f"/baved/{i}.wav", speaker=str(i // 6), split=("train", "dev", "test")[i // 6],
                       labels={"arousal": i % 3}, corpus="baved") for i in range(18)]
    data["baved"] = (baved, np.eye(9)[[u.labels["arousal"] for u in baved]] * 3 + rng.normal(size=(18, 9)))
    rows = bench.table(data, "balanced")
    assert len(rows) == 8 * len(bench.NORMS) * len(bench.KERNELS)
    columns = {c: 5 + i for i, c in enumerate(bench.COLUMNS)}
    for row in rows:
        setting, scored_on = row[0], row[2]
        filled = {c for c, i in columns.items() if row[i]}
        if scored_on.startswith("BAVED"):
            assert filled == {"arousal"}
        elif setting == "LOCO":
            assert filled == {"common", "arousal", "valence", "dominance"}
            assert scored_on.endswith("all clips")
        else:
            assert filled == set(bench.COLUMNS)
