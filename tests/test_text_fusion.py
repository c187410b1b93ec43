"""Audio and text together (``--modality``, ``kerasser.model.fusion``): the model, a missing text,
the text input through the data pipeline, and (slow) a tiny run trained, evaluated with and without
its text, exported (SavedModel, TFLite) and labelled with ``--transcripts``."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from kerasser.config import AudioConfig, ModelConfig
from kerasser.errors import SettingsError

TASKS = ("arousal", "valence", "emotion")
SMALL = dict(tasks=TASKS, frontend="logmel", audio=AudioConfig(frame_length=400), mel_bins=8, block_channels=(8,),
             block_dilations=(1,), gru_units=8, gru_layers=1, text_vocabulary=tuple(" abcdef"), bridge_tokens=3)


def build(**settings):
    from kerasser.model.network import build_model

    return build_model(ModelConfig(**{**SMALL, **settings}))


def inputs(rng, text, n=4000):
    wave = rng.normal(scale=0.1, size=(1, n)).astype(np.float32)
    return {"waveform": wave, "length": np.array([n], np.int32), "text": np.asarray([text], np.int32)}


def probabilities(model, given) -> dict:
    return {k: np.asarray(v) for k, v in model(given, training=False).items()}


def assert_same(a: dict, b: dict, atol=1e-6):
    for name in a:
        np.testing.assert_allclose(a[name], b[name], atol=atol, err_msg=name)


def test_the_fusion_model_takes_text_and_its_heads_read_frames_and_bridge_tokens(rng):
    from kerasser.model.network import with_attention_outputs

    model = build(modality="audio+text")
    assert set(model.input) == {"waveform", "length", "text"}
    names = {layer.name for layer in model.layers}
    for layer in ("text_embedding", "text_attention", "acoustic_attention", "modality_dropout", "bridge_fusion",
                  "emotion_bridge_pooling", "emotion_pooling", "emotion_fused"):
        assert layer in names
    fused = model.get_layer("emotion_fused")  # the audio model's frame pooling beside the bridge tokens'
    assert [t.shape[-1] for t in fused.input] == [model.get_layer("emotion_pooling").output[0].shape[-1], 8]
    given = inputs(rng, [2, 3, 4])
    out = with_attention_outputs(model)(given)
    assert sorted(out) == sorted([*TASKS, *(f"{t}_attention" for t in TASKS)])  # attention over the frames
    for task in TASKS:
        np.testing.assert_allclose(np.asarray(out[task]).sum(), 1.0, rtol=1e-5)
        assert out[f"{task}_attention"].shape == (1, AudioConfig(frame_length=400).num_frames(4000))
    text_only = with_attention_outputs(build(modality="text"))(given)
    assert sorted(text_only) == sorted(TASKS)  # no frames to attend to
    assert "modality_dropout" not in {layer.name for layer in build(modality="audio+text", modality_dropout=0.0).layers}


def test_padding_and_a_missing_text_do_not_depend_on_their_length(rng):
    model = build(modality="audio+text")
    given = inputs(rng, [2, 3, 4])
    assert_same(probabilities(model, given), probabilities(model, {**given, "text": np.array([[2, 3, 4, 0, 0]])}))
    missing = probabilities(model, {**given, "text": np.array([[0]])})
    assert_same(missing, probabilities(model, {**given, "text": np.array([[0, 0, 0, 0]])}))
    assert not np.allclose(missing["emotion"], probabilities(model, given)["emotion"])  # the text counts


def test_a_missing_text_leaves_the_audio_alone_to_decide(rng):
    """With no text, no weight of the text branch reaches the outputs: scrambling them all
    changes nothing (with a text it does)."""
    model = build(modality="audio+text")
    given = inputs(rng, [5, 6, 2, 7])
    missing = {**given, "text": np.array([[0]])}
    before, before_with_text = probabilities(model, missing), probabilities(model, given)
    for name in ("text_embedding", "text_conv", "text_attention"):
        layer = model.get_layer(name)
        layer.set_weights([w + rng.normal(size=w.shape).astype(np.float32) for w in layer.get_weights()])
    assert_same(before, probabilities(model, missing))
    assert not np.allclose(before_with_text["emotion"], probabilities(model, given)["emotion"])


def test_a_text_only_model_does_not_read_the_audio(rng):
    model = build(modality="text")
    assert "frame_padding" not in {layer.name for layer in model.layers}
    given = inputs(rng, [2, 3])
    other = {**given, "waveform": given["waveform"] * -3.0}
    assert_same(probabilities(model, given), probabilities(model, other))


def test_a_saved_fusion_model_loads_and_predicts_the_same(rng, tmp_path):
    from kerasser.model.network import load_model

    model = build(modality="audio+text")
    model.save(tmp_path / "m.keras")
    given = inputs(rng, [2, 3, 4, 5])
    assert_same(probabilities(model, given), probabilities(load_model(tmp_path / "m.keras"), given))


def test_waveform_only_tools_refuse_a_text_model():
    from kerasser.model.network import require_waveform_only

    with pytest.raises(SettingsError, match="reads the transcript beside the waveform"):
        require_waveform_only(build(modality="audio+text"), "ensembles")


def test_examples_carry_the_transcript_tokens_padded_per_batch(tmp_path):
    import soundfile as sf

    from kerasser.data import dataset
    from kerasser.data.corpora.utterance import Utterance
    from kerasser.data.examples import ExampleSettings

    utts = []
    for i, text in enumerate(["abc", None, "Fab e!"]):
        sf.write(tmp_path / f"{i}.wav", np.full(1600 * (i + 1), 0.1, np.float32), 16000)
        utts.append(Utterance(str(tmp_path / f"{i}.wav"), "s", "test", {"arousal": 0}, transcript=text))
    settings = ExampleSettings(("arousal",), text_vocabulary=tuple(" abcef"))
    batch = next(iter(dataset.batched(dataset.decoded(utts, settings), 3, training=False)))[0]
    np.testing.assert_array_equal(batch["text"].numpy(), [[3, 4, 5, 0, 0, 0], [0, 0, 0, 0, 0, 0],
                                                          [7, 3, 4, 2, 6, 1]])  # "!": OOV; none: [PAD]
    plain = next(iter(dataset.batched(dataset.decoded(utts, ExampleSettings(("arousal",))), 3, training=False)))[0]
    assert "text" not in plain


def test_a_prepared_folder_gives_the_same_text_as_the_audio_files(tmp_path):
    import soundfile as sf

    from kerasser.data import dataset
    from kerasser.data.corpora.utterance import Utterance
    from kerasser.data.examples import ExampleSettings
    from kerasser.data.records import prepare, read_prepared

    utts = []
    for i, text in enumerate(["abc", None, "cab!"]):
        sf.write(tmp_path / f"{i}.wav", np.full(800 * (i + 1), 0.1, np.float32), 16000)
        utts.append(Utterance(str(tmp_path / f"{i}.wav"), "s", "test", {"arousal": i}, transcript=text))
    prepare(utts, tmp_path / "prepared", write=lambda line: None)
    settings = ExampleSettings(("arousal",), text_vocabulary=tuple("abc"))
    from_files = [e[0]["text"].numpy().tolist() for e in dataset.decoded(utts, settings)]
    from_folder = [e[0]["text"].numpy().tolist() for e in dataset.decoded(read_prepared(tmp_path / "prepared"), settings)]
    assert from_folder == from_files == [[2, 3, 4], [0], [4, 2, 3, 1]]


def test_mixup_gives_each_clip_the_text_of_its_larger_part():
    import tensorflow as tf

    from kerasser.data.mixup import mix_batch

    inputs_ = {"waveform": tf.ones((3, 5)), "length": tf.constant([5, 5, 5]),
               "text": tf.constant([[2, 2], [3, 3], [4, 0]])}
    labels, weights = {"arousal": tf.constant([0, 1, 2])}, {"arousal": tf.ones(3)}
    mixed, _, _ = mix_batch(inputs_, labels, weights, tf.constant([0.9, 0.2, 0.5]), tf.constant([1, 2, 0]))
    np.testing.assert_array_equal(mixed["text"].numpy(), [[2, 2], [4, 0], [4, 0]])


def test_the_exported_model_refuses_text_it_cannot_read():
    from kerasser.serve.inference import _text_row

    with pytest.raises(SettingsError, match="takes no text"):
        _text_row(np.array([2, 3]), takes_text=False)
    assert _text_row(None, takes_text=False) is None
    np.testing.assert_array_equal(_text_row(None, takes_text=True), [0])


# --- a tiny run, end to end ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """A one-epoch audio+text run on the benchmark's synthetic fixture (one clip per speaker and
    emotion) and its export."""
    from benchmark_scripts import load_benchmark

    from kerasser.config import TrainConfig
    from kerasser.export.exporter import export_run
    from kerasser.training.loop import train

    base = tmp_path_factory.mktemp("text_run")
    manifest = load_benchmark("text_fusion").make_fixture(base / "data", per_class=1)
    config = TrainConfig(corpora=(("manifest", str(manifest)),), out=str(base / "run"), epochs=1, batch_size=8,
                         model=ModelConfig(**{**SMALL, "text_vocabulary": ()}, modality="audio+text"))
    train(config, write=lambda line: None)
    export_run(base / "run", base / "exported", quantize=("dynamic", "int8"), representative_clips=8,
               write=lambda line: None)
    return base, manifest


@pytest.mark.slow
def test_a_text_run_saves_its_vocabulary_and_scores_with_and_without_text(text_run):
    from kerasser.evaluate.run import evaluate_run
    from kerasser.text_input import build_vocabulary
    from kerasser.training.runs import load_config

    base, manifest = text_run
    config = load_config(base / "run")
    from kerasser.data.corpora import read_corpora, select

    train_utts = select(read_corpora(config.corpora), "train", config.model.tasks)
    assert config.model.text_vocabulary == build_vocabulary(u.transcript for u in train_utts)
    with_text = evaluate_run(base / "run", "test", write=lambda line: None)
    without = evaluate_run(base / "run", "test", write=lambda line: None, text=False)
    assert with_text["text"] is True and without["text"] is False
    assert (base / "run" / "eval_manifest_test_no-text.json").is_file()
    assert with_text["files"] == without["files"] == 8
    from click.testing import CliRunner
    from kerasser_cli.main import cli

    result = CliRunner().invoke(cli, ["evaluate", str(base / "run"), "--without-text", "--no-confusion"])
    assert result.exit_code == 0 and "without transcripts" in result.output
    assert json.loads((base / "run" / "eval_manifest_test_no-text.json").read_text())["text"] is False


@pytest.mark.slow
def test_the_export_takes_the_text_as_a_second_input(text_run):
    import tensorflow as tf

    from kerasser.data.audio import load
    from kerasser.data.corpora import read_corpus
    from kerasser.serve.inference import load_exported

    base, manifest = text_run
    metadata = json.loads((base / "exported" / "metadata.json").read_text())
    info = metadata["text_input"]
    assert info["input"] == "text" and info["vocabulary"] and info["pad"] == 0 and info["oov"] == 1
    assert metadata["attention"] is True and metadata["parity"]["float32"]["passed"]
    assert not any(op.startswith("Flex") for op in metadata["tflite"]["operators"])
    signature = tf.saved_model.load(str(base / "exported" / "saved_model")).signatures["serving_default"]
    assert set(signature.structured_input_signature[1]) == {"waveform", "text"}

    utt = read_corpus("manifest", manifest)[0]
    wave = load(utt.path, 16000)
    tflite, keras_model = load_exported(base / "exported"), load_exported(base / "exported", backend="keras")
    assert tflite.reads_text and tflite.text_vocabulary == tuple(info["vocabulary"])
    for text in (utt.transcript, None, "words the model never saw: ~~"):
        got, want = tflite.predict(wave, text=text), keras_model.predict(wave, text=text)
        assert_same({t: got[t] for t in TASKS}, {t: want[t] for t in TASKS}, atol=1e-4)
    assert not np.allclose(tflite.predict(wave, text=utt.transcript)["emotion"], tflite.predict(wave)["emotion"])
    dynamic = load_exported(base / "exported", variant="dynamic")
    assert set(dynamic.predict(wave, text=utt.transcript)) == {*TASKS, *(f"{t}_attention" for t in TASKS)}
    # int8: calibrated on training clips with their transcripts; the text stays an int32 input
    assert metadata["parity"]["int8"]["argmax_agreement"] >= 0.5, metadata["parity"]["int8"]
    int8 = load_exported(base / "exported", variant="int8")
    for text in (utt.transcript, None):  # a one-epoch model calibrated on 8 clips: near, not equal
        got, want = int8.predict(wave, text=text), keras_model.predict(wave, text=text)
        assert_same({t: got[t] for t in TASKS}, {t: want[t] for t in TASKS}, atol=0.2)
    assert not np.allclose(int8.predict(wave, text=utt.transcript)["emotion"], int8.predict(wave)["emotion"])


@pytest.mark.slow
def test_label_reads_transcripts_for_whole_files(text_run, tmp_path):
    from click.testing import CliRunner
    from kerasser_cli.main import cli

    from kerasser.data.corpora import read_corpus
    from kerasser.serve.labeling import Labeler

    base, manifest = text_run
    utts = read_corpus("manifest", manifest)[:2]
    table = tmp_path / "transcripts.csv"
    table.write_text("path,text\n" + f"{utts[0].path},{utts[0].transcript}\n")
    labeler = Labeler(str(base / "exported"))
    with_text = labeler.predict(utts[0].path, text=utts[0].transcript)
    without = labeler.predict(utts[0].path)
    result = CliRunner().invoke(cli, ["label", utts[0].path, utts[1].path, "--model", str(base / "exported"),
                                      "--transcripts", str(table)])
    assert result.exit_code == 0, result.output
    rows = result.stdout.strip().splitlines()[1:]
    first = dict(zip(result.stdout.splitlines()[0].split(","), rows[0].split(",")))
    assert abs(float(first["emotion_anger"]) - with_text["emotion"]["probabilities"]["anger"]) < 1e-4
    assert with_text["emotion"]["probabilities"] != without["emotion"]["probabilities"]
    second = dict(zip(result.stdout.splitlines()[0].split(","), rows[1].split(",")))
    assert abs(float(second["emotion_anger"]) - labeler.predict(utts[1].path)["emotion"]["probabilities"]["anger"]) < 1e-4


@pytest.mark.slow
def test_transcripts_for_an_audio_model_or_a_bad_csv_stop_with_one_line(text_run, tmp_path):
    from click.testing import CliRunner
    from kerasser_cli.main import cli

    base, manifest = text_run
    bad = tmp_path / "bad.csv"
    bad.write_text("path,text\n,hello\n")
    wav = str(manifest.parent / "s08_anger_00.wav")
    result = CliRunner().invoke(cli, ["label", wav, "--model", str(base / "exported"), "--transcripts", str(bad)])
    assert result.exit_code == 2 and f"{bad}:2: empty path" in result.output and "Traceback" not in result.output
    audio = CliRunner().invoke(cli, ["label", wav, "--transcripts", str(bad)])  # the default model: audio only
    assert audio.exit_code == 2 and "--transcripts is for models trained with --modality" in audio.output


def test_keras_layers_of_the_fusion_model_are_registered():
    for name in ("BridgeFusion", "ModalityDropout", "SelfAttention", "TokenEmbedding"):
        assert keras.saving.get_registered_object(f"kerasser>{name}") is not None


# --- labelling with transcripts (a fake text model: no TensorFlow) ---------------------------------------


class _Rows:
    def __init__(self):
        self.rows = []

    def write(self, row):
        self.rows.append(row)


def fake_text_model(transcript=None):
    from fakes import FakeModel

    class FakeTextModel(FakeModel):
        """A FakeModel that reads text: remembers the text of every call."""

        reads_text = True

        def __init__(self):
            super().__init__(transcript=transcript)
            self.texts = []

        def predict(self, waveform, text=None):
            self.texts.append(text)
            return super().predict(waveform)

    return FakeTextModel()


def test_the_labeler_reads_the_ctc_transcript_when_no_text_is_given():
    from fakes import sine

    from kerasser.serve.labeling import Labeler

    model = fake_text_model(transcript="hallo welt")
    labeler = Labeler(model)
    assert labeler.reads_text
    labeler.predict_waveform(sine(0.5))
    assert model.texts == [None, "hallo welt"]  # the CTC head's reading, then the model again with it
    labeler.predict_waveform(sine(0.5), text="given")
    assert model.texts[2:] == ["given"]
    plain = fake_text_model()
    Labeler(plain).predict_waveform(sine(0.5))
    assert plain.texts == [None]  # no CTC head: the audio alone


def test_an_audio_model_takes_no_text():
    from fakes import FakeModel, sine

    from kerasser.serve.labeling import Labeler

    with pytest.raises(SettingsError, match="takes no text"):
        Labeler(FakeModel()).predict_waveform(sine(0.5), text="hello")


def test_label_files_gives_a_transcript_to_whole_file_rows_only(tmp_path):
    from fakes import FakeModel, ramp_file

    from kerasser.data.input_files import Source
    from kerasser.serve.labeling import Labeler
    from kerasser.serve.labeling_files import label_files

    short, long = str(ramp_file(tmp_path / "short.wav", 1.0)), str(ramp_file(tmp_path / "long.wav", 2.5))
    texts = {short: "short one", long: "long one"}
    model = fake_text_model()
    rows = _Rows()
    label_files(Labeler(model), [Source(short), Source(long)], rows, segment="none", text_of=texts.get)
    assert model.texts == ["short one", "long one"] and len(rows.rows) == 2
    windowed = fake_text_model()
    label_files(Labeler(windowed), [Source(long)], _Rows(), segment=1.0, text_of=texts.get)
    assert windowed.texts == [None, None]  # 1 s + 1.5 s windows: parts of the file, no transcript
    with pytest.raises(SettingsError, match="takes no text"):
        label_files(Labeler(FakeModel()), [Source(short)], _Rows(), text_of=texts.get)


def test_the_benchmark_report_compares_conditions_on_the_same_seeds(tmp_path, monkeypatch):
    from benchmark_scripts import load_benchmark

    bench = load_benchmark("text_fusion")
    monkeypatch.setattr(bench, "REPORT", tmp_path / "text_fusion.md")

    def record(condition, seed, emotion, no_text=None, screen=False):
        r = {"corpus": "emodb", "condition": condition, "seed": seed, "epochs": 60, "screen": screen,
             "test": {"emotion": emotion}, "test_mean": emotion}
        if no_text is not None:
            r.update(test_no_text={"emotion": no_text}, test_no_text_mean=no_text)
        return r

    records = [record("audio", 0, 60.0), record("audio", 1, 70.0), record("audio", 2, 50.0),
               record("audio+text", 0, 65.0, 61.0), record("audio+text", 1, 69.0, 70.0),
               record("audio", 0, 40.0, screen=True)]
    text = bench.write_report(records)
    assert "| audio | 3 | - | - | - | 60.0 ± 8.2 | 60.0 ± 8.2 |" in text
    assert "| audio+text, text missing | 2 | - | - | - | 65.5 ± 4.5 | 65.5 ± 4.5 |" in text
    assert "audio+text − audio, 2 seed(s): emotion +2.0 (+5.0, -1.0)" in text  # seed 2 has no audio+text run
    assert "audio+text with the text missing − audio, 2 seed(s): emotion +0.5 (+1.0, +0.0)" in text
    assert "EmoDB (the same sentences in every emotion): a SCREEN" in text and "| audio | 1 | - | - | - | 40.0 |" in text
    assert (tmp_path / "text_fusion.md").read_text() == text + "\n"
