"""The text input's facts (``kerasser.text_input``), its settings (``ModelConfig.modality`` and the
options table), and the transcripts a run or a labelling reads (``kerasser.data.transcripts``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kerasser.config import AudioConfig, ModelConfig, TrainConfig, as_given, model_config_from_dict, to_dict
from kerasser.data.corpora.utterance import CorpusError, Utterance
from kerasser.data.transcripts import fit_text_vocabulary, read_transcripts, transcript_table, without_text
from kerasser.errors import DataError, SettingsError
from kerasser.text_input import (
    MAX_TOKENS,
    OOV,
    PAD,
    build_vocabulary,
    encode_tokens,
    input_vocabulary,
    normalize,
    serving_tokens,
    vocabulary_size,
)


def test_normalize_lowers_drops_annotations_and_collapses_space():
    assert normalize("  I'm [LAUGHTER] SO   <noise> happy!\n") == "i'm so happy!"
    assert normalize(None) == "" and normalize("   ") == ""


def test_vocabulary_keeps_characters_seen_often_enough_sorted():
    vocabulary = build_vocabulary(["ab ca", "b!", None, "[XX] c ab x"], min_count=2)
    assert vocabulary == (" ", "a", "b", "c")  # "!" and "x" seen once; the annotation's letters not at all
    assert vocabulary_size(vocabulary) == 6


def test_encode_maps_characters_unknowns_and_nothing():
    vocabulary = (" ", "a", "b")
    np.testing.assert_array_equal(encode_tokens("Ab z", vocabulary), [3, 4, 2, OOV])
    assert encode_tokens(None, vocabulary).shape == (0,) and encode_tokens("", vocabulary).dtype == np.int32
    assert len(encode_tokens("a" * (MAX_TOKENS + 7), vocabulary)) == MAX_TOKENS
    np.testing.assert_array_equal(serving_tokens(encode_tokens(None, vocabulary)), [PAD])
    np.testing.assert_array_equal(serving_tokens(np.array([3, 4])), [3, 4])


@pytest.mark.parametrize("settings, message", [
    (dict(modality="video"), "modality must be one of"),
    (dict(bridge_tokens=0), "bridge_tokens"),
    (dict(modality_dropout=1.0), "modality_dropout"),
    (dict(text_vocabulary=("ab",)), "single characters"),
    (dict(modality="text", ctc_weight=0.3), "text-only model"),
    (dict(modality="audio+text", frontend="logmel", audio=AudioConfig(frame_length=400), mel_trainable=False,
          feature_norm="speaker"), "by itself"),
])
def test_bad_text_settings_are_refused(settings, message):
    with pytest.raises(SettingsError, match=message):
        ModelConfig(**settings)


def test_a_saved_model_config_without_the_text_fields_loads_as_an_audio_model():
    saved = json.loads(json.dumps(to_dict(ModelConfig())))
    for field in ("modality", "bridge_tokens", "modality_dropout", "text_vocabulary"):
        del saved[field]
    config = model_config_from_dict(saved)
    assert config == ModelConfig() and config.modality == "audio" and input_vocabulary(config) is None


def test_the_vocabulary_is_derived_so_as_given_leaves_it_out():
    config = TrainConfig(corpora=(("manifest", "m.csv"),), out="r", model=ModelConfig(modality="audio+text"))
    fitted = TrainConfig(corpora=config.corpora, out="r",
                         model=ModelConfig(modality="audio+text", text_vocabulary=tuple("ab ")))
    saved = json.loads(json.dumps(to_dict(fitted)))
    assert as_given(saved) == as_given(config)
    assert model_config_from_dict(saved["model"]).text_vocabulary == tuple("ab ")
    assert input_vocabulary(fitted.model) == tuple("ab ")


def test_cli_options_round_trip_through_train_arguments():
    from test_uncertainty_weights import config_from_arguments

    from kerasser.training.options import train_arguments

    args = ["--corpus", "emodb", "--data", "data/emodb", "--tasks", "a,e", "--out", "runs/t",
            "--modality", "audio+text", "--bridge-tokens", "6", "--modality-dropout", "0"]
    config = config_from_arguments(args)
    assert (config.model.modality, config.model.bridge_tokens, config.model.modality_dropout) == ("audio+text", 6, 0.0)
    rebuilt = train_arguments(config)
    assert "--modality" in rebuilt and "--bridge-tokens" in rebuilt and "--modality-dropout" in rebuilt
    assert config_from_arguments(rebuilt) == config
    audio = config_from_arguments(args[:-6])
    assert "--modality" not in train_arguments(audio)  # the default is not spelled out


def utterance(text, path="a.wav", split="train"):
    return Utterance(path=path, speaker="s", split=split, labels={"arousal": 0}, transcript=text)


class _Paths:
    def __init__(self, root):
        self.config = root / "config.json"


def test_a_run_fits_its_vocabulary_to_the_training_transcripts(tmp_path):
    config = TrainConfig(corpora=(), out=str(tmp_path), model=ModelConfig(modality="audio+text"))
    lines = []
    fitted = fit_text_vocabulary(config, [utterance("ab ba"), utterance(None), utterance("cab  ba")], _Paths(tmp_path),
                                 lines.append)
    assert fitted.model.text_vocabulary == (" ", "a", "b")  # "c" only once
    assert json.loads((tmp_path / "config.json").read_text())["model"]["text_vocabulary"] == [" ", "a", "b"]
    assert "2 of 3 training utterances have a transcript" in lines[0]
    assert fit_text_vocabulary(fitted, [utterance("zz zz")], _Paths(tmp_path), lines.append) == fitted  # kept
    audio = TrainConfig(corpora=(), out=str(tmp_path))
    assert fit_text_vocabulary(audio, [utterance(None)], _Paths(tmp_path), lines.append) is audio
    with pytest.raises(DataError, match="needs transcripts, and none of the 2"):
        fit_text_vocabulary(config, [utterance(None), utterance(" ")], _Paths(tmp_path), lines.append)


def test_without_text_drops_only_the_transcripts():
    kept = without_text([utterance("hello")])
    assert kept[0].transcript is None and kept[0].labels == {"arousal": 0}


def test_transcripts_csv_is_read_and_matched_by_resolved_path(tmp_path):
    (tmp_path / "sub").mkdir()
    table = tmp_path / "t.csv"
    table.write_text("Path,Text,other\nsub/a.wav,\"Hello, there\",x\nb.wav,,y\n\n")
    texts = read_transcripts(table)
    assert texts == {str(tmp_path / "sub" / "a.wav"): "Hello, there"}  # an empty text is no transcript
    text_of = transcript_table(table)
    assert text_of(str(tmp_path / "sub" / ".." / "sub" / "a.wav")) == "Hello, there"
    assert text_of(str(tmp_path / "b.wav")) is None and text_of("elsewhere.wav") is None


@pytest.mark.parametrize("content, message", [
    ("path,speaker\na.wav,s\n", r"t.csv:1: a transcripts CSV needs a 'path' and a 'text' column"),
    ("path,text\na.wav,hi\n,oops\n", r"t.csv:3: empty path"),
    ("path,text\na.wav,hi\n./a.wav,again\n", r"t.csv:3: ./a.wav is also listed on line 2"),
    ('path,text\na.wav,"never closed\n', r"t.csv:2: malformed CSV"),
])
def test_a_bad_transcripts_csv_is_one_line_naming_the_file_and_row(tmp_path, content, message):
    (tmp_path / "t.csv").write_text(content)
    with pytest.raises(CorpusError, match=message):
        read_transcripts(tmp_path / "t.csv")


def test_a_missing_transcripts_csv_is_named(tmp_path):
    with pytest.raises(CorpusError, match="no such transcripts file"):
        read_transcripts(tmp_path / "none.csv")
