"""kerasser.data.corpora: EmoDB and BAVED on the real shared copies, IEMOCAP on a fixture, CSV manifests."""

from __future__ import annotations

import collections
import difflib
import os
import shutil
from pathlib import Path

import pytest

from kerasser.data.audio import load
from kerasser.data.corpora import READERS, CorpusError, Utterance, read_corpus, read_iemocap, read_manifest
from kerasser.data.corpora.emodb import TRANSCRIPTS
from kerasser.tasks import TASKS

IEMOCAP = Path(__file__).resolve().parent / "fixtures" / "iemocap"  # made by fixtures/make_iemocap_fixture.py


def names(utt: Utterance) -> dict[str, str]:
    """Labels as class names, for readable assertions."""
    return {task: TASKS[task].classes[i] for task, i in utt.labels.items()}


def by_stem(utterances: list[Utterance]) -> dict[str, Utterance]:
    return {Path(u.path).stem: u for u in utterances}


def assert_well_formed(utterances: list[Utterance], corpus: str) -> None:
    assert utterances
    for u in utterances:
        assert os.path.isabs(u.path)
        assert u.corpus == corpus
        assert u.split in ("train", "dev", "test")
    assert [u.path for u in utterances] == sorted(u.path for u in utterances)


# --- EmoDB ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emodb(shared_data):
    return read_corpus("emodb", shared_data / "emodb")


def test_emodb_counts_and_splits(emodb):
    assert len(emodb) == 535
    assert_well_formed(emodb, "emodb")
    assert all(os.path.isfile(u.path) for u in emodb)
    speakers = {s: {u.speaker for u in emodb if u.split == s} for s in ("train", "dev", "test")}
    assert speakers == {
        "train": {"03", "08", "09", "10", "11", "13"},
        "dev": {"12", "14"},
        "test": {"15", "16"},
    }
    assert collections.Counter(u.split for u in emodb) == {"train": 304, "dev": 104, "test": 127}
    assert collections.Counter(u.speaker for u in emodb)["16"] == 71


def test_emodb_labels(emodb):
    utts = by_stem(emodb)
    assert names(utts["03a01Fa"]) == {"emotion": "happiness", "arousal": "high", "valence": "high", "dominance": "high"}
    assert names(utts["03a01Nc"]) == {"emotion": "neutral", "arousal": "mid", "valence": "mid", "dominance": "mid"}
    assert names(utts["03a01Wa"]) == {"emotion": "anger", "arousal": "high", "valence": "low", "dominance": "high"}
    emotions = collections.Counter(names(u)["emotion"] for u in emodb)
    assert emotions == {
        "anger": 127, "boredom": 81, "neutral": 79, "happiness": 71, "fear": 69, "sadness": 62, "disgust": 46
    }
    # The PROTOCOL table: disgust is the only mid dominance besides neutral; boredom/sadness low arousal.
    for u in emodb:
        n = names(u)
        assert (n["dominance"] == "mid") == (n["emotion"] in ("disgust", "neutral"))
        assert (n["arousal"] == "low") == (n["emotion"] in ("boredom", "sadness"))


def test_emodb_transcripts_match_silb(emodb, shared_data):
    assert by_stem(emodb)["03a01Fa"].transcript == "Der Lappen liegt auf dem Eisschrank."
    # the words spoken inside the 2.0 s cut: a prefix of the file's sentence
    for u in emodb:
        sentence = TRANSCRIPTS[Path(u.path).stem[2:5]]
        assert u.transcript is None or sentence.startswith(u.transcript), u.path
    # The syllable annotation (silb/, latin-1) is phonetic ("la pen", "gehn"), so compare letters
    # fuzzily: each annotated file's syllables must be closest to its own text's sentence.
    letters = {code: "".join(c for c in s.lower() if c.isalpha()) for code, s in TRANSCRIPTS.items()}
    checked = 0
    for u in emodb:
        silb = shared_data / "emodb" / "silb" / f"{Path(u.path).stem}.silb"
        rows = [line.split() for line in silb.read_text(encoding="latin-1").splitlines()]
        syllables = "".join(c for row in rows if len(row) > 1 for c in row[1].lower() if c.isalpha())
        if not syllables:
            continue  # 13a01Wb.silb is empty in the original release
        ratio = {
            code: difflib.SequenceMatcher(None, syllables, text, autojunk=False).ratio()
            for code, text in letters.items()
        }
        assert max(ratio, key=ratio.get) == Path(u.path).stem[2:5], u.path
        checked += 1
    assert checked == 534


def test_emodb_accepts_wav_folder(shared_data, emodb):
    assert read_corpus("emodb", shared_data / "emodb" / "wav") == emodb


def test_emodb_errors(tmp_path):
    with pytest.raises(CorpusError, match="no EmoDB audio found"):
        read_corpus("emodb", tmp_path)
    (tmp_path / "wav").mkdir()
    (tmp_path / "wav" / "recording.wav").write_bytes(b"")
    with pytest.raises(CorpusError, match=r"recording\.wav: not an EmoDB file name"):
        read_corpus("emodb", tmp_path)
    (tmp_path / "wav" / "recording.wav").rename(tmp_path / "wav" / "99a01Fa.wav")
    with pytest.raises(CorpusError, match="unknown EmoDB speaker '99'"):
        read_corpus("emodb", tmp_path)


# --- BAVED ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def baved(shared_data):
    return read_corpus("baved", shared_data / "baved")


def test_baved_counts_and_splits(baved):
    assert len(baved) == 1935
    assert_well_formed(baved, "baved")
    speakers = {s: {u.speaker for u in baved if u.split == s} for s in ("train", "dev", "test")}
    assert speakers["dev"] == {"0", "3", "6", "12", "22", "27", "32", "37", "40", "53", "54", "55"}
    assert speakers["test"] == {"2", "7", "8", "13", "23", "28", "33", "38", "42", "50", "51", "100"}
    assert len(speakers["train"]) == 36 and "52" not in speakers["train"]
    assert len({u.speaker for u in baved}) == 60
    assert collections.Counter(u.split for u in baved) == {"train": 1044, "dev": 473, "test": 418}


def test_baved_labels(baved):
    assert all(set(u.labels) == {"arousal"} for u in baved)  # arousal only: no valence anywhere
    assert all(u.transcript is None for u in baved)
    levels = collections.Counter(names(u)["arousal"] for u in baved)
    assert levels == {"low": 585, "mid": 672, "high": 678}
    utts = by_stem(baved)
    assert names(utts["0-m-21-0-1-105"]) == {"arousal": "mid"}
    assert names(utts["0-m-21-0-2-106"]) == {"arousal": "high"}
    assert names(utts["100-f-6-0-0-0"]) == {"arousal": "low"}


def test_baved_misfiled_word_is_read_from_its_name(baved, shared_data):
    odd = [u for u in baved if Path(u.path).name == "49-m-23-6-1-201.wav"]
    assert len(odd) == 1
    assert odd[0].path == str(shared_data / "baved" / "0" / "49-m-23-6-1-201.wav")
    assert (odd[0].speaker, odd[0].split, names(odd[0])) == ("49", "train", {"arousal": "mid"})


def test_baved_bad_name(tmp_path):
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "x-m-21-3-1-1.wav").write_bytes(b"")
    with pytest.raises(CorpusError, match="not a BAVED file name"):
        read_corpus("baved", tmp_path)


# --- IEMOCAP (fixture) ---------------------------------------------------------------------------


def test_iemocap_fixture():
    utts = read_corpus("iemocap", IEMOCAP)
    assert len(utts) == 12
    assert_well_formed(utts, "iemocap")
    assert all(os.path.isfile(u.path) for u in utts)
    u = by_stem(utts)
    # Ratings on the cut points: 2.0 -> low, 2.5 -> mid, 4.0 -> high ([valence, activation, dominance]).
    assert names(u["Ses01F_impro01_F000"]) == {
        "emotion": "neutral", "valence": "mid", "arousal": "mid", "dominance": "mid"
    }
    assert names(u["Ses01F_impro01_M000"]) == {
        "emotion": "happiness", "valence": "high", "arousal": "high", "dominance": "low"
    }
    assert names(u["Ses01F_impro01_F001"]) == {"valence": "low", "arousal": "mid", "dominance": "high"}  # fru
    assert names(u["Ses03F_script02_2_F000"]) == {"valence": "mid", "arousal": "mid", "dominance": "mid"}  # xxx
    assert "emotion" not in u["Ses05M_script01_1_F000"].labels  # sur
    assert "emotion" not in u["Ses05M_script01_1_M000"].labels  # oth
    assert names(u["Ses03F_script02_2_M000"])["emotion"] == "happiness"  # hap
    assert names(u["Ses02M_impro03_M000"])["emotion"] == "anger"
    assert names(u["Ses02M_impro03_F000"])["emotion"] == "sadness"
    assert names(u["Ses04M_impro02_M000"])["emotion"] == "fear"
    assert names(u["Ses04M_impro02_F000"])["emotion"] == "disgust"
    # Speaker = session + gender of the turn's speaker, not of the dialog's name.
    assert (u["Ses01F_impro01_F000"].speaker, u["Ses01F_impro01_M000"].speaker) == ("Ses01_F", "Ses01_M")
    assert u["Ses05M_script01_1_F000"].speaker == "Ses05_F"
    assert {x.split for x in utts if x.speaker.startswith(("Ses01", "Ses02", "Ses03"))} == {"train"}
    assert {x.split for x in utts if x.speaker.startswith("Ses04")} == {"dev"}
    assert {x.split for x in utts if x.speaker.startswith("Ses05")} == {"test"}
    script = u["Ses05M_script01_1_F000"]
    assert script.path == str(IEMOCAP / "Session5/sentences/wav/Ses05M_script01_1/Ses05M_script01_1_F000.wav")
    assert script.transcript == "Oh! You're back already?"
    assert u["Ses01F_impro01_F000"].transcript == "Excuse me."
    assert len(load(script.path)) == 4800


def test_iemocap_ignores_evaluator_subfolders_and_keeps_missing_wavs(tmp_path):
    root = tmp_path / "iemocap"
    shutil.copytree(IEMOCAP, root)
    evaluation = root / "Session1" / "dialog" / "EmoEvaluation"
    decoy = "[1.0000 - 2.0000]\tSes01F_impro01_F099\tang\t[1.0000, 5.0000, 5.0000]\n"
    (evaluation / "Categorical" / "decoy.txt").write_text(decoy)
    missing = root / "Session4" / "sentences" / "wav" / "Ses04M_impro02" / "Ses04M_impro02_F000.wav"
    missing.unlink()
    utts = by_stem(read_iemocap(root))
    assert len(utts) == 12 and "Ses01F_impro01_F099" not in utts
    assert utts["Ses04M_impro02_F000"].path == str(missing)  # kept; audio.load reports it later


def test_iemocap_partial_copy_and_errors(tmp_path):
    shutil.copytree(IEMOCAP / "Session5", tmp_path / "Session5")
    assert {u.split for u in read_iemocap(tmp_path)} == {"test"}
    (tmp_path / "Session5" / "dialog" / "EmoEvaluation" / "Ses05M_script01_1.txt").write_text(
        "% header\n\n[1.0 - 2.0]\tSes05M_script01_1_F000\tneu\t[2.5, 2.5]\n"
    )
    with pytest.raises(CorpusError, match=r"Ses05M_script01_1\.txt:3: unreadable IEMOCAP turn line"):
        read_iemocap(tmp_path)
    with pytest.raises(CorpusError, match="no IEMOCAP session folders"):
        read_iemocap(tmp_path / "Session5")


# --- manifest ------------------------------------------------------------------------------------


def test_manifest(tmp_path):
    (tmp_path / "audio").mkdir()
    csv_path = tmp_path / "lists" / "m.csv"
    csv_path.parent.mkdir()
    csv_path.write_text(
        "path,speaker,split,transcript,arousal,V,e,duration\n"
        "../audio/one.wav,spk1,train,hello there,high,low,Fear,1.5\n"
        f"{tmp_path / 'audio' / 'two.flac'},,,,,,,\n"
        "three.wav,spk2,TEST,,mid,,,\n"
    )
    one, two, three = read_corpus("manifest", csv_path)
    assert one == Utterance(
        path=str(tmp_path / "audio" / "one.wav"),
        speaker="spk1",
        split="train",
        labels={"arousal": 2, "valence": 0, "emotion": 3},
        transcript="hello there",
        corpus="manifest",
    )
    assert (two.path, two.speaker, two.split, two.labels, two.transcript) == (
        str(tmp_path / "audio" / "two.flac"), "two", None, {}, None
    )
    assert (three.path, three.split, names(three)) == (str(csv_path.parent / "three.wav"), "test", {"arousal": "mid"})


@pytest.mark.parametrize(
    "text, message",
    [
        ("file,arousal\na.wav,high\n", r"m\.csv:1: no 'path' column"),
        ("path,arousal\na.wav,high\nb.wav,hihg\n", r"m\.csv:3: unknown arousal class 'hihg'"),
        ("path,emotion\na.wav,contempt\n", r"m\.csv:2: unknown emotion class 'contempt'"),
        ("path,split\na.wav,validation\n", r"m\.csv:2: unknown split 'validation'"),
        ("path,arousal,a\na.wav,high,low\n", r"m\.csv:1: column 'a' duplicates column 'arousal'"),
        ("path\n\n", r"m\.csv: manifest lists no audio files"),
        ("path,arousal\n,high\n", r"m\.csv:2: empty path"),
    ],
)
def test_manifest_errors(tmp_path, text, message):
    csv_path = tmp_path / "m.csv"
    csv_path.write_text(text)
    with pytest.raises(CorpusError, match=message) as e:
        read_manifest(csv_path)
    assert "\n" not in str(e.value)


# --- registry ------------------------------------------------------------------------------------


def test_read_corpus_errors(tmp_path):
    assert set(READERS) == {"emodb", "baved", "iemocap", "manifest", "ravdess", "tfrecord"}
    with pytest.raises(CorpusError, match="unknown corpus 'timit'; expected one of emodb, baved"):
        read_corpus("timit", tmp_path)
    with pytest.raises(CorpusError, match="no such file or folder"):
        read_corpus("emodb", tmp_path / "missing")
    with pytest.raises(CorpusError, match="no such manifest file"):
        read_manifest(tmp_path / "missing.csv")


def test_utterance_validates_and_hashes():
    u = Utterance(path="/a.wav", speaker="s", split=None, labels={"arousal": 2})
    assert hash(u) == hash(Utterance(path="/a.wav", speaker="s", split=None, labels={"arousal": 2}))
    with pytest.raises(CorpusError, match="out of range"):
        Utterance(path="/a.wav", speaker="s", split=None, labels={"arousal": 3})
    with pytest.raises(CorpusError, match="unknown task"):
        Utterance(path="/a.wav", speaker="s", split=None, labels={"pleasure": 0})
    with pytest.raises(CorpusError, match="split"):
        Utterance(path="/a.wav", speaker="s", split="val", labels={})
