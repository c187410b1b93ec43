"""kerasser.model.network: outputs, padding invariance, attention outputs, traced == eager, saving,
and the in-graph standardisation after ``adapt`` (tiny configurations, random weights)."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
import tiny

from kerasser.config import AudioConfig, ModelConfig
from kerasser.errors import SettingsError
from kerasser.model.network import NORMALIZATION, build_model, pooling_name, with_attention_outputs
from kerasser.tasks import TASKS
from kerasser.training.loop import adapt_normalization

AUDIO = AudioConfig()
TINY = ModelConfig(conv_filters=4, conv_width=8, channel_pool=2, gru_units=8, gru_layers=2)
# The default recipe's shape in miniature (conftest), with SpecAugment.
TINY_LOGMEL = ModelConfig(**tiny.TINY_LOGMEL, spec_time_masks=2, spec_freq_masks=2)
VARIANTS = {
    "shared-attention": dataclasses.replace(TINY, frontend="shared", attention=True),
    "shared-last": dataclasses.replace(TINY, frontend="shared", attention=False),
    "framed-attention": dataclasses.replace(TINY, frontend="framed", conv_padding="same", attention=True),
    "framed-last": dataclasses.replace(TINY, frontend="framed", conv_padding="valid", attention=False),
    "logmel-stats": TINY_LOGMEL,
    # three frames per GRU step: groups that straddle the end of an utterance
    "logmel-stride3": dataclasses.replace(TINY_LOGMEL, recurrent_stride=3, pool_heads=1),
    "logmel-pcen": dataclasses.replace(TINY_LOGMEL, feature_norm="pcen"),
    # per-utterance statistics over the speech frames only (an energy gate)
    "logmel-gated": dataclasses.replace(TINY_LOGMEL, feature_norm="meanvar", norm_gate_db=30.0),
}


def features_layer(config: ModelConfig) -> str:
    """The layer whose output is the per-frame features (the front end's last layer)."""
    return f"block{len(config.block_channels)}" if config.frontend == "logmel" else "frontend"
# Keras warns when attention pools a single frame (eager input of <= 640 samples): expected here.
pytestmark = pytest.mark.filterwarnings("ignore:You are using a softmax over axis:UserWarning")

INPUT_SIGNATURE = [
    {"waveform": tf.TensorSpec([None, None], tf.float32), "length": tf.TensorSpec([None], tf.int32)}
]


def examples(waveforms: list[np.ndarray]) -> tf.data.Dataset:
    """Examples shaped like ``kerasser.data.dataset``'s: (inputs, labels, sample weights)."""

    def generate():
        for w in waveforms:
            inputs = {"waveform": w, "length": np.int32(len(w))}
            yield inputs, {"arousal": np.int32(0)}, {"arousal": np.float32(1)}

    return tf.data.Dataset.from_generator(
        generate,
        output_signature=(
            {"waveform": tf.TensorSpec([None], tf.float32), "length": tf.TensorSpec([], tf.int32)},
            {"arousal": tf.TensorSpec([], tf.int32)},
            {"arousal": tf.TensorSpec([], tf.float32)},
        ),
    )


@pytest.fixture(scope="module", params=list(VARIANTS))
def variant(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def model(variant) -> keras.Model:
    """A tiny model of each variant, its standardisation adapted to nonzero mean and non-unit
    variance (so zero padding is *not* zero after standardising)."""
    keras.utils.set_random_seed(1)
    model = build_model(VARIANTS[variant])
    rng = np.random.default_rng(1)
    audio = [rng.normal(0.5, 2.0, size=n).astype(np.float32) for n in (700, 1500)]
    adapt_normalization(model, examples(audio))
    return model


def batch(*rows: tuple[np.ndarray, int], time: int | None = None, rng=None) -> dict[str, np.ndarray]:
    """A padded batch of (samples, length) rows; past each row's samples: zeros, or junk from ``rng``."""
    time = time or max(len(x) for x, _ in rows)
    waveform = np.zeros((len(rows), time), np.float32)
    if rng is not None:
        waveform[:] = rng.normal(5.0, 10.0, size=waveform.shape)
    for i, (x, _) in enumerate(rows):
        waveform[i, : len(x)] = x
    return {"waveform": waveform, "length": np.array([n for _, n in rows], np.int32)}


def utterances(rng: np.random.Generator, *lengths: int) -> list[tuple[np.ndarray, int]]:
    """Random (samples, length) rows for ``batch``."""
    return [(rng.normal(size=n).astype(np.float32), n) for n in lengths]


def predict(model: keras.Model, inputs) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in model(inputs, training=False).items()}


# --- outputs -----------------------------------------------------------------------------------


def test_outputs(variant, model, rng):
    config = VARIANTS[variant]
    layer, frontend = {
        "shared": ("frontend", "SharedFrontEnd"),
        "framed": ("frontend", "FramedFrontEnd"),
        "logmel": ("log_mel", "LogMelSpectrogram"),
    }[config.frontend]
    assert type(model.get_layer(layer)).__name__ == frontend
    pooling = "AttentionPooling" if config.attention else "LastStepPooling"
    assert all(type(model.get_layer(pooling_name(t))).__name__ == pooling for t in config.tasks)
    inputs = batch(*utterances(rng, 900, 2000))
    out = predict(model, inputs)
    assert list(out) == list(config.tasks)
    for task, probabilities in out.items():
        assert probabilities.shape == (2, TASKS[task].num_classes)
        assert np.all(probabilities >= 0)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_task_heads_follow_config(rng):
    keras.utils.set_random_seed(0)
    config = dataclasses.replace(TINY, tasks=("emotion", "arousal"), gru_layers=1)
    model = build_model(config)
    out = predict(model, batch(*utterances(rng, 800)))
    assert list(out) == ["emotion", "arousal"]
    assert out["emotion"].shape == (1, len(config.emotion_classes)) and out["arousal"].shape == (1, 3)
    for probabilities in out.values():
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert len([layer for layer in model.layers if layer.name.startswith("gru")]) == 1


@pytest.mark.slow  # measured over 5 s on 2 busy cores (--durations)
def test_cosine_heads_train_with_a_margin_and_reload(rng, tmp_path):
    """head="cosine": every task's head is a CosineSoftmax; compiled with an additive margin, a few
    steps on one batch lower the AM-softmax loss, and the saved model reloads with its loss."""
    from kerasser.model.layers import CosineSoftmax
    from kerasser.model.losses import SparseCrossentropy
    from kerasser.model.network import compile_model, load_model

    keras.utils.set_random_seed(0)
    config = dataclasses.replace(TINY, tasks=("arousal", "valence"), gru_layers=1, head="cosine", head_scale=10.0)
    model = build_model(config)
    assert all(isinstance(model.get_layer(t), CosineSoftmax) for t in config.tasks)
    compile_model(model, {"arousal": 1.0, "valence": 1.0}, 1e-2, margin=0.2, logit_scale=10.0)
    inputs = batch(*utterances(rng, 1200, 1600, 2000, 900))
    labels = {"arousal": np.array([0, 1, 2, 0]), "valence": np.array([2, 1, 0, 1])}
    losses = [float(model.train_on_batch(inputs, labels)[0]) for _ in range(15)]
    assert np.isfinite(losses).all() and losses[-1] < 0.5 * losses[0]
    for probabilities in predict(model, inputs).values():
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    model.save(tmp_path / "cosine.keras")
    restored = load_model(tmp_path / "cosine.keras", compile=True)
    loss = restored.loss["arousal"]
    assert isinstance(loss, SparseCrossentropy) and (loss.margin, loss.logit_scale) == (0.2, 10.0)
    for task, probabilities in predict(restored, inputs).items():
        np.testing.assert_allclose(probabilities, predict(model, inputs)[task], atol=1e-6)


# --- padding -----------------------------------------------------------------------------------


@pytest.mark.slow  # measured over 5 s on 2 busy cores (--durations)
@pytest.mark.parametrize("n", [1000, 500])  # 500: shorter than one frame
def test_padding_does_not_change_predictions(model, rng, n):
    """An utterance alone, zero-padded, junk-padded, and junk-padded further (with a longer one
    beside it) gets the same predictions; so does the longer utterance."""
    short = rng.normal(size=n).astype(np.float32)
    long = rng.normal(size=2400).astype(np.float32)
    alone_short = predict(model, batch((short, n)))
    alone_long = predict(model, batch((long, 2400)))
    padded = [
        predict(model, batch((short, n), (long, 2400))),  # zeros past n
        predict(model, batch((short, n), (long, 2400), rng=rng)),  # junk past n
        predict(model, batch((short, n), (long, 2400), time=4000, rng=rng)),  # junk past both
        predict(model, batch((long, 2400), (short, n), time=3000)),  # other order, zeros
    ]
    rows = [(0, 1), (0, 1), (0, 1), (1, 0)]
    for out, (short, long) in zip(padded, rows):
        for task in out:
            np.testing.assert_allclose(out[task][short], alone_short[task][0], atol=1e-5)
            np.testing.assert_allclose(out[task][long], alone_long[task][0], atol=1e-5)


def test_attention_outputs(variant, model, rng):
    lengths = [1000, 2400]
    inputs = batch(*utterances(rng, *lengths), time=3000, rng=rng)
    probe = with_attention_outputs(model)
    out = predict(probe, inputs)
    plain = predict(model, inputs)
    attention = VARIANTS[variant].attention
    expected_keys = [*plain, *([f"{t}_attention" for t in plain] if attention else [])]
    assert sorted(out) == sorted(expected_keys)
    for task in plain:
        np.testing.assert_allclose(out[task], plain[task], atol=1e-6)
    if not attention:
        return
    geometry = VARIANTS[variant].audio
    frames = geometry.num_frames(3000)
    real = np.arange(frames)[None, :] < np.array([geometry.num_frames(n) for n in lengths])[:, None]
    for task in plain:
        alpha = out[f"{task}_attention"]
        assert alpha.shape == (2, frames)
        np.testing.assert_allclose(alpha.sum(axis=1), 1.0, atol=1e-5)
        assert np.all(alpha[~real] == 0.0)
        assert np.all(alpha[real] > 0.0)


# --- tracing -----------------------------------------------------------------------------------


@pytest.mark.slow  # measured over 5 s on 2 busy cores (--durations)
def test_traced_matches_eager(variant, model, rng):
    """The whole model under ``tf.function`` with unknown batch and time equals eager, frame
    count included (the front end's features and, with attention, the weights are outputs)."""
    config = VARIANTS[variant]
    probe = with_attention_outputs(model)
    probe = keras.Model(probe.input, {**probe.output, "features": model.get_layer(features_layer(config)).output})
    traced = tf.function(lambda inputs: probe(inputs, training=False), input_signature=INPUT_SIGNATURE)
    for n, rows in [(640, 2), (1000, 2), (3200, 2), (8000, 2), (3200, 1)]:
        inputs = batch(*utterances(rng, n, n // 2 + 1)[:rows], rng=rng)
        eager = predict(probe, inputs)
        graph = {k: np.asarray(v) for k, v in traced(inputs).items()}
        assert eager["features"].shape[1] == config.audio.num_frames(n)
        assert sorted(graph) == sorted(eager)
        for key in eager:
            assert graph[key].shape == eager[key].shape, key
            np.testing.assert_allclose(graph[key], eager[key], atol=1e-5, err_msg=key)
    assert traced.experimental_get_tracing_count() == 1


@pytest.mark.slow  # measured over 5 s on 2 busy cores (--durations)
def test_export_matches_eager(model, rng, tmp_path):
    """``model.export`` (a SavedModel whose signature has unknown batch and time) == eager."""
    model.export(str(tmp_path / "export"), verbose=False)
    serve = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"]
    for n in (640, 1000, 4000):
        inputs = batch(*utterances(rng, n, 600))
        eager = predict(model, inputs)
        graph = serve(**{k: tf.constant(v) for k, v in inputs.items()})
        assert sorted(graph) == sorted(eager)
        for task in eager:
            np.testing.assert_allclose(np.asarray(graph[task]), eager[task], atol=1e-5)


# --- saving ------------------------------------------------------------------------------------


def test_keras_save_load_round_trip(variant, model, rng, tmp_path):
    inputs = batch(*utterances(rng, 1200, 700), rng=rng)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    before, after = predict(model, inputs), predict(loaded, inputs)
    assert list(after) == list(before)
    for task in before:
        np.testing.assert_allclose(after[task], before[task], atol=1e-6)
    for name in (NORMALIZATION, features_layer(VARIANTS[variant]), pooling_name(next(iter(before)))):
        assert type(loaded.get_layer(name)) is type(model.get_layer(name))
        assert loaded.get_layer(name).get_config() == model.get_layer(name).get_config()
    for stat in ("mean", "variance"):
        saved = np.asarray(getattr(model.get_layer(NORMALIZATION), stat))
        np.testing.assert_array_equal(np.asarray(getattr(loaded.get_layer(NORMALIZATION), stat)), saved)


# --- standardisation ---------------------------------------------------------------------------


def test_normalization_after_adapt(rng):
    """``adapt`` on utterances of different lengths and levels: the mean and variance of all
    their samples together (each sample counts once, not each utterance)."""
    keras.utils.set_random_seed(0)
    model = build_model(dataclasses.replace(TINY, gru_layers=1))
    levels = ((2.0, 1.0, 100), (-1.0, 3.0, 1700), (0.5, 0.5, 900))  # mean, std, samples
    audio = [rng.normal(loc, scale, size=n).astype(np.float32) for loc, scale, n in levels]
    adapt_normalization(model, examples(audio))
    layer = model.get_layer(NORMALIZATION)
    everything = np.concatenate(audio).astype(np.float64)
    np.testing.assert_allclose(np.asarray(layer.mean).reshape(()), everything.mean(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(layer.variance).reshape(()), everything.var(), rtol=1e-4)
    x = rng.normal(size=(2, 50)).astype(np.float32)
    expected = (x - everything.mean()) / np.sqrt(everything.var())
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("settings,message", [
    (dict(norm_gate_db=-3.0), "norm_gate_db must be >= 0"),
    (dict(norm_gate_db=float("nan")), "norm_gate_db must be >= 0"),
    (dict(feature_norm="pcen", norm_gate_db=30.0), "gates per-utterance statistics"),
    (dict(feature_norm="none", norm_gate_db=30.0), "gates per-utterance statistics"),
])
def test_bad_normalisation_gates_are_refused(settings, message):
    with pytest.raises(SettingsError, match=message):
        dataclasses.replace(TINY_LOGMEL, **settings)


def test_the_gate_reaches_the_normalisation_layer():
    model = build_model(VARIANTS["logmel-gated"])
    assert model.get_layer("feature_norm").get_config()["gate_db"] == 30.0
