"""One label space over several corpora (kerasser.data.label_space): heads over the union of the
corpora's classes, absent classes masked in the loss, balance across corpora, per-corpus scores,
and leave-one-corpus-out folds."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from kerasser.config import ModelConfig, model_config_from_dict, to_dict
from kerasser.data.corpora import Utterance
from kerasser.data.dataset import corpus_weights
from kerasser.data.examples import ExampleSettings, targets
from kerasser.data.folds import corpus_folds, make_folds
from kerasser.data.label_space import LabelSpace, corpus_classes, labelled_classes, restrict
from kerasser.data.mixup import mix_batch
from kerasser.errors import SettingsError
from kerasser.evaluate.corpus_scores import COMMON, corpus_reports
from kerasser.model.losses import SparseCrossentropy
from kerasser.tasks import EMODB_EMOTIONS, EMOTION, emotion_groups, vocabulary_indices

E = EMOTION.index


def utt(corpus, emotion, speaker="1", split="train", **labels):
    return Utterance(path=f"/{corpus}/{speaker}-{emotion}-{len(labels)}-{split}.wav", speaker=speaker, split=split,
                     labels={"emotion": E(emotion), **labels}, corpus=corpus)


EMODB = [utt("emodb", e) for e in EMODB_EMOTIONS]
RAVDESS = [utt("ravdess", e) for e in ("anger", "disgust", "fear", "happiness", "sadness", "neutral", "calm", "surprise")]


def test_the_head_covers_the_union_in_vocabulary_order_and_masks_what_a_corpus_lacks():
    assert labelled_classes(RAVDESS) == ("anger", "disgust", "fear", "happiness", "sadness", "neutral", "calm", "surprise")
    head = labelled_classes(EMODB + RAVDESS)
    assert head == EMOTION.classes  # all nine, EmoDB's seven first
    assert corpus_classes(EMODB + RAVDESS)["emodb"] == EMODB_EMOTIONS
    space = LabelSpace.for_training(head, EMODB + RAVDESS)
    assert space.masked
    np.testing.assert_array_equal(space.mask("emodb"), [1, 1, 1, 1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(space.mask("ravdess"), [1, 0, 1, 1, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(space.target("ravdess", head.index("calm")),
                                  np.r_[np.eye(9)[7], space.mask("ravdess")])
    assert not LabelSpace.for_training(EMODB_EMOTIONS, EMODB).masked  # one corpus with every class: old labels


def test_targets_are_head_columns_with_the_corpus_mask():
    head = labelled_classes(RAVDESS)  # no boredom: neutral is column 5, not vocabulary index 6
    space = LabelSpace.for_training(head, RAVDESS)
    labels, weights = targets(utt("ravdess", "neutral"), ExampleSettings(("emotion",), space=space))
    assert labels["emotion"] == 5 and weights["emotion"] == 1
    labels, weights = targets(utt("emodb", "boredom"), ExampleSettings(("emotion",), space=space))
    assert weights["emotion"] == 0  # the head has no boredom: nothing to learn from it
    both = LabelSpace.for_training(EMOTION.classes, EMODB + RAVDESS)
    labels, _ = targets(utt("emodb", "neutral"), ExampleSettings(("emotion",), space=both))
    np.testing.assert_array_equal(labels["emotion"], np.r_[np.eye(9)[6], both.mask("emodb")])


def masked_reference(p, target, mask, smoothing=0.0):
    allowed = mask > 0
    spread = allowed / allowed.sum(axis=-1, keepdims=True)
    smoothed = target * (1 - smoothing) + smoothing * spread
    q = np.where(allowed, p, 0) / np.sum(np.where(allowed, p, 0), axis=-1, keepdims=True)
    return -np.sum(np.where(allowed, smoothed * np.log(np.maximum(q, 1e-30)), 0), axis=-1)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_masked_crossentropy_numpy_reference(smoothing):
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(9), size=4).astype(np.float32)
    mask = np.array([[1] * 7 + [0, 0], [1, 0] + [1] * 7, [1] * 9, [1] * 7 + [0, 0]], np.float32)
    target = np.eye(9, dtype=np.float32)[[0, 7, 8, 6]]
    got = SparseCrossentropy(smoothing).call(tf.constant(np.c_[target, mask]), tf.constant(p)).numpy()
    np.testing.assert_allclose(got, masked_reference(p, target, mask, smoothing), rtol=1e-5)
    # an all-ones mask is the plain cross-entropy
    plain = SparseCrossentropy(smoothing).call(tf.constant(target[2:3]), tf.constant(p[2:3])).numpy()
    np.testing.assert_allclose(got[2], plain[0], rtol=1e-5)


def test_clips_without_an_emotion_and_teacher_targets():
    baved = Utterance(path="/baved/1.wav", speaker="1", split="train", labels={"arousal": 2}, corpus="baved")
    space = LabelSpace.for_training(EMOTION.classes, EMODB + RAVDESS + [baved])
    np.testing.assert_array_equal(space.mask("baved"), np.ones(9))  # BAVED labels no emotion: nothing masked
    # a teacher's distribution keeps its mass on the corpus' classes only
    teacher = np.full(9, 1 / 9, np.float32)
    target = space.target("emodb", teacher)[:9]
    np.testing.assert_allclose(target, np.r_[np.full(7, 1 / 7), 0, 0], rtol=1e-6)
    # a row whose mask is empty (a mixed pair of unlabelled clips) gives a finite loss, not NaN
    y = tf.constant(np.zeros((1, 18), np.float32))
    p = tf.constant(np.full((1, 9), 1 / 9, np.float32))
    for margin in (0.0, 0.2):
        assert np.isfinite(SparseCrossentropy(0.1, margin=margin).call(y, p).numpy()).all()


@pytest.mark.parametrize("margin", [0.0, 0.2])
def test_a_class_the_corpus_lacks_gets_no_gradient(margin):
    logits = tf.Variable(np.random.default_rng(1).normal(size=(2, 9)).astype(np.float32))
    mask = np.array([[1] * 7 + [0, 0]] * 2, np.float32)  # EmoDB clips: no calm, no surprise
    y = tf.constant(np.c_[np.eye(9, dtype=np.float32)[[0, 4]], mask])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(SparseCrossentropy(0.1, margin=margin).call(y, tf.nn.softmax(logits)))
    grad = tape.gradient(loss, logits).numpy()
    np.testing.assert_allclose(grad[:, 7:], 0.0, atol=1e-6)
    assert np.abs(grad[:, :7]).sum() > 0.1


def test_mixup_mixes_the_masks_into_their_union():
    mask_a, mask_b = np.r_[np.ones(7), 0, 0], np.r_[1, 0, np.ones(7)]
    labels = {"emotion": tf.constant(np.stack([np.r_[np.eye(9)[0], mask_a], np.r_[np.eye(9)[7], mask_b]]), tf.float32)}
    inputs = {"waveform": tf.zeros((2, 4)), "length": tf.constant([4, 4])}
    _, y, w = mix_batch(inputs, labels, {"emotion": tf.constant([1.0, 1.0])}, tf.constant([0.7, 0.6]),
                        tf.constant([1, 0]), EMOTION.classes)
    target, mask = np.split(y["emotion"].numpy(), 2, axis=-1)
    np.testing.assert_allclose(target[0], 0.7 * np.eye(9)[0] + 0.3 * np.eye(9)[7], rtol=1e-6)
    np.testing.assert_array_equal(mask[0] > 0, (mask_a + mask_b) > 0)


def test_corpus_weights_give_each_corpus_the_same_total():
    big = [utt("ravdess", e, speaker=str(i)) for i in range(6) for e in ("anger", "calm", "calm")]  # 18 clips
    small = [utt("emodb", e) for e in ("anger", "boredom", "boredom")]  # 3 clips
    clips = big + small
    for by_class in (False, True):
        table = corpus_weights(clips, ["emotion"], by_class)["emotion"]
        w = np.array([table[u.corpus][u.labels["emotion"]] for u in clips])
        assert w.mean() == pytest.approx(1.0)
        assert w[: len(big)].sum() == pytest.approx(w[len(big):].sum())
        if by_class:  # and within a corpus each class the same
            anger = np.array([u.labels["emotion"] == E("anger") for u in big])
            assert w[: len(big)][anger].sum() == pytest.approx(w[: len(big)][~anger].sum())
    labels, weights = targets(small[1], ExampleSettings(("emotion",), weights_by_class=corpus_weights(clips, ["emotion"], True)))
    assert weights["emotion"] == pytest.approx(21 / (2 * 2 * 2))  # n / (corpora * classes * clips of the class)


def test_scores_per_corpus_are_over_its_own_classes_and_the_common_four():
    head = list(EMOTION.classes)
    # an EmoDB clip of anger whose most probable class is calm, which EmoDB cannot express
    p = np.full((4, 9), 0.01)
    p[0, [7, 0]] = [0.6, 0.3]
    p[1, [5, 4]] = [0.5, 0.4]  # sadness clip, right
    p[2, [7, 6]] = [0.7, 0.2]  # RAVDESS neutral clip: calm wins over all, neutral over the common four
    p[3, 7] = 0.9  # RAVDESS calm clip, right
    predictions = {"emotion": {"paths": ["a", "b", "c", "d"], "labels": [E("anger"), E("sadness"), E("neutral"), E("calm")],
                               "probabilities": p.tolist()}}
    reports = corpus_reports(predictions, {"a": "emodb", "b": "emodb", "c": "ravdess", "d": "ravdess"},
                             {"emodb": EMODB_EMOTIONS, "ravdess": tuple(c for c in head if c != "boredom")})
    assert reports["emodb"]["emotion"] == 100.0  # calm is not an EmoDB answer
    assert reports["ravdess"]["emotion"] == 50.0  # neutral -> calm wrong, calm right
    assert reports["ravdess"][COMMON] == 100.0 and reports["ravdess"]["files"] == 2
    assert list(restrict(p, head, ["anger", "sadness"])) == [0, 5, 0, 0]
    np.testing.assert_array_equal(vocabulary_indices("emotion", [0, 5], head[1:]), [1, 6])


def test_derived_levels_leave_out_emotions_without_one():
    assert emotion_groups("arousal", EMOTION.classes)[-2:] == (-1, -1)
    assert emotion_groups("arousal") == emotion_groups("arousal", EMODB_EMOTIONS)


def test_model_config_emotion_classes():
    config = ModelConfig(tasks=("emotion",), emotion_classes=list(EMOTION.classes))
    assert model_config_from_dict(to_dict(config)) == config
    assert ModelConfig().emotion_classes == EMODB_EMOTIONS  # older run folders keep their head
    with pytest.raises(SettingsError, match="emotion_classes"):
        ModelConfig(emotion_classes=("anger", "contempt"))


def test_leave_one_corpus_out_folds():
    clips = [utt("emodb", "anger", speaker=s, split=sp) for s, sp in (("03", "train"), ("12", "dev"), ("15", "test"))]
    clips += [utt("ravdess", "calm", speaker=s, split=sp) for s, sp in (("01", "train"), ("17", "dev"), ("21", "test"))]
    folds = {f.name: f for f in corpus_folds(clips)}
    assert folds["emodb"].test == ("emodb:03", "emodb:12", "emodb:15")  # every clip of the held-out corpus
    assert folds["emodb"].train == ("ravdess:01",) and folds["emodb"].dev == ("ravdess:17",)
    assert folds["ravdess"].train == ("emodb:03",)
    with pytest.raises(SettingsError, match="two or more corpora"):
        corpus_folds(clips[:3])


def test_protocol_folds_of_ravdess():
    speakers = [f"ravdess:{a:02d}" for a in range(1, 25)]
    folds = make_folds(speakers, "protocol", dev_speakers=2, seed=0)
    assert [f.test for f in folds][:2] == [tuple(speakers[0:4]), tuple(speakers[4:8])]
    assert all(len(f.dev) == 2 and len(f.train) == 18 for f in folds)
    with pytest.raises(SettingsError, match="protocol folds"):
        make_folds(["emodb:03", "emodb:08"], "protocol", dev_speakers=0, seed=0)


def test_the_corpus_adversary_tells_corpora_apart():
    from kerasser.data.dataset import adversary_indices

    clips = EMODB[:2] + [utt("ravdess", "calm", speaker="01"), utt("ravdess", "calm", speaker="02")]
    assert adversary_indices(clips, "corpus") == {"emodb:1": 0, "ravdess:01": 1, "ravdess:02": 1}
    assert adversary_indices(clips, "speaker") == {"emodb:1": 0, "ravdess:01": 1, "ravdess:02": 2}
