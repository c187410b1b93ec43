"""CSV manifests that would silently give wrong data: malformed CSV (an unterminated quote swallowing
the rows after it, an unquoted comma shifting columns) and one audio file listed twice (in two
splits, with two labels, or alike) are errors naming the file and line(s); ``kerasser prepare``
and ``kerasser train`` refuse them in a real process, ``prepare --allow-duplicates`` keeps them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from kerasser.data.corpora import CorpusError, read_corpora, read_manifest

HEADER = "path,speaker,split,arousal\n"


def manifest(tmp_path, body: str, name: str = "m.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def error_of(path, **kwargs) -> str:
    with pytest.raises(CorpusError) as info:
        read_manifest(path, **kwargs)
    text = str(info.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize(
    "body, message",
    [
        # the case: the quote on line 3 is never closed and would swallow lines 3 to 5
        ('a.wav,s1,train,high\n"b.wav,s1,train,low\nc.wav,s2,test,mid\nd.wav,s2,test,low\n',
         "m.csv:3: malformed CSV (a quote opened in this row is never closed)"),
        ('a.wav,s1,train,high\n"b"x.wav,s1,train,low\n', "m.csv:3: malformed CSV (',' expected after '\"')"),
        # an unquoted comma in a path shifts every column after it
        ("a.wav,s1,train,high\nspaces and, commas.wav,s1,train,low\n",
         "m.csv:3: 5 fields but the header has 4 (quote a field that holds a comma)"),
        # a quoted field that spans lines and leaves more fields than the header
        ('a.wav,s1,"train\nb.wav",s1,train,low\n', "m.csv:2: 6 fields but the header has 4"),
    ],
)
def test_malformed_csv_names_the_line(tmp_path, body, message):
    assert message in error_of(manifest(tmp_path, body))


def test_well_formed_csv_still_reads(tmp_path):
    (tmp_path / "spaces and, commas.wav").write_bytes(b"")
    path = manifest(tmp_path, 'a.wav,s1,train,high,\n"spaces and, commas.wav",s1,test,low\n\nb.wav\n')
    utterances = read_manifest(path)  # a trailing empty field, a quoted comma, a blank line, a short row
    assert [(os.path.basename(u.path), u.split) for u in utterances] == [
        ("a.wav", "train"), ("spaces and, commas.wav", "test"), ("b.wav", None)
    ]


@pytest.mark.parametrize(
    "body, message",
    [
        ("a.wav,s1,train,high\nb.wav,s1,train,low\n./sub/../a.wav,s1,test,high\n",
         "m.csv:4: ./sub/../a.wav is also listed on line 2, in train there and test here: one file in two splits "
         "leaks what is tested into training; list each file once"),
        ("a.wav,s1,train,high\na.wav,s1,train,low\n",
         "m.csv:3: a.wav is also listed on line 2, labelled arousal=high there and arousal=low here"),
        ("a.wav,s1,,high\na.wav,s1,,\n", "labelled arousal=high there and nothing here"),
        ("a.wav,s1,train,high\na.wav,s1,train,high\n", "m.csv:3: a.wav is also listed on line 2, alike: it would count twice"),
        ("a.wav,s1,train,high\nlink.wav,s1,dev,high\n", "m.csv:3: link.wav is also listed on line 2, in train there and dev here"),
    ],
)
def test_a_file_listed_twice_is_an_error_naming_both_lines(tmp_path, body, message):
    (tmp_path / "a.wav").write_bytes(b"")
    os.symlink("a.wav", tmp_path / "link.wav")  # another name for the same file
    path = manifest(tmp_path, body)
    assert message in error_of(path)
    assert len(read_manifest(path, allow_duplicates=True)) == body.count("\n")  # every row kept


def test_read_corpora_checks_and_allows_duplicates(tmp_path):
    path = manifest(tmp_path, "a.wav,s1,train,high\na.wav,s1,test,high\n")
    with pytest.raises(CorpusError, match="also listed on line 2"):
        read_corpora([("manifest", str(path))])
    assert [u.split for u in read_corpora([("manifest", str(path))], allow_duplicates=True)] == ["train", "test"]


def test_one_file_in_two_corpora_is_an_error_naming_both(tmp_path):
    """Two --corpus manifests of one run that list the same file (here once through a link)."""
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "a.wav").symlink_to(tmp_path / "a.wav")
    first = manifest(tmp_path, "a.wav,s1,train,high\n", name="first.csv")
    second = manifest(tmp_path / "b", "a.wav,s2,test,high\nother.wav,s2,test,low\n", name="second.csv")
    pairs = [("manifest", str(first)), ("manifest", str(second))]
    with pytest.raises(CorpusError) as err:
        read_corpora(pairs)
    assert str(err.value) == (f"{second}: {tmp_path / 'b' / 'a.wav'} is also in corpus manifest ({first}); "
                              "list each file in one corpus only")
    assert len(read_corpora(pairs, allow_duplicates=True)) == 3
    assert len(read_corpora(pairs[1:])) == 2  # one corpus: nothing to compare


# --- real processes -----------------------------------------------------------------------------


def kerasser(*args, cwd):
    done = subprocess.run([sys.executable, "-m", "kerasser_cli", *args], capture_output=True, text=True, timeout=600,
                          cwd=cwd)
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture
def clips(shared_data, tmp_path):
    """Four EmoDB clips (links) in tmp_path, and ``rows(...)``: manifest lines for them."""
    names = ["03a01Fa", "03a01Nc", "08a01Ab", "16a01Wb"]
    for name in names:
        os.symlink(shared_data / "emodb" / "wav" / f"{name}.wav", tmp_path / f"{name}.wav")
    return [f"{name}.wav" for name in names]


def test_prepare_refuses_a_malformed_manifest(clips, tmp_path):
    body = f"{clips[0]},s1,train,high\n\"{clips[1]},s1,train,low\n" + "".join(f"{c},s2,test,mid\n" for c in clips[2:])
    manifest(tmp_path, body)
    done = kerasser("prepare", "--corpus", "manifest", "--data", "m.csv", "--out", "prepared", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (f"Error: {tmp_path / 'm.csv'}:3: malformed CSV (a quote opened in this "
                                            "row is never closed)")
    assert not (tmp_path / "prepared").exists()  # nothing written


@pytest.mark.slow  # prepare decodes four clips (TensorFlow writes the records)
def test_prepare_refuses_a_file_in_two_splits_unless_allowed(clips, tmp_path):
    body = "".join(f"{c},s1,train,high\n" for c in clips) + f"{clips[0]},s1,test,high\n"
    manifest(tmp_path, body)
    args = ["prepare", "--corpus", "manifest", "--data", "m.csv", "--out", "prepared"]
    done = kerasser(*args, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(f"Error: {tmp_path / 'm.csv'}:6: {clips[0]} is also listed on "
                                                   "line 2, in train there and test here")
    assert not (tmp_path / "run").exists()  # the corpora are read before the run folder is made
    assert not (tmp_path / "prepared").exists()
    done = kerasser(*args, "--allow-duplicates", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    index = json.loads((tmp_path / "prepared" / "index.json").read_text())
    assert [u["split"] for u in index["utterances"]] == ["train"] * 4 + ["test"]


@pytest.mark.slow  # measured over 5 s on 2 busy cores (--durations)
def test_train_refuses_a_file_in_two_splits(clips, tmp_path):
    manifest(tmp_path, f"{clips[0]},s1,train,high\n{clips[1]},s1,train,low\n{clips[0]},s2,test,high\n")
    done = kerasser("train", "--corpus", "manifest", "--data", "m.csv", "--tasks", "a", "--out", "run", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(f"Error: {tmp_path / 'm.csv'}:4: {clips[0]} is also listed on "
                                                   "line 2, in train there and test here")
