"""``kerasser explain``: one attention figure per audio file, of the expected size; a file that
cannot be read gets one line on stderr and the others are still drawn."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from kerasser_cli.main import cli

from kerasser.evaluate.explain import FIGURE_WIDTH, figure_height, figure_names, spectrogram
from kerasser.figures import DPI

mpimg = pytest.importorskip("matplotlib.image")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "examples")
MODEL = os.path.join(REPO, "exported", "emodb-avde")
pytestmark = pytest.mark.skipif(not os.path.isdir(MODEL), reason="no shipped model in this checkout")


def test_spectrogram_shape():
    wave = np.random.default_rng(0).normal(size=16000).astype(np.float32)
    assert spectrogram(wave, 16000).shape == (98, 257)
    assert spectrogram(wave[:10], 16000).shape == (1, 257)  # shorter than a frame: one padded frame


@pytest.mark.slow  # the shipped model on the example clips
def test_one_file_and_a_folder(tmp_path):
    out = tmp_path / "one.png"
    result = CliRunner().invoke(cli, ["explain", os.path.join(EXAMPLES, "16a01Wb.wav"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    height, width = mpimg.imread(out).shape[:2]
    tasks = 4  # the shipped model: arousal, valence, dominance, emotion
    assert (width, height) == (round(FIGURE_WIDTH * DPI), round(figure_height(tasks) * DPI))
    assert figure_height(tasks) == 1.3 + 2.0 + 1.3 * tasks + 0.8

    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("15a01La.wav", "16a04Fa.wav"):
        os.symlink(os.path.join(EXAMPLES, name), folder / name)
    (folder / "broken.wav").write_bytes(b"not audio")
    result = CliRunner().invoke(cli, ["explain", str(folder), "--out", str(tmp_path / "figures")])
    assert result.exit_code == 1
    assert sorted(os.listdir(tmp_path / "figures")) == ["15a01La.png", "16a04Fa.png"]
    assert result.stderr.splitlines() == [f"{folder / 'broken.wav'}: not a readable audio file (Format not recognised)",
                                          "1 of 3 files could not be drawn"]


@pytest.mark.slow
def test_saliency_rows(tmp_path):
    """--saliency adds one row per task (tf-keras-vis on the export's Keras model)."""
    pytest.importorskip("tf_keras_vis")
    out = tmp_path / "saliency.png"
    args = ["explain", os.path.join(EXAMPLES, "16a01Wb.wav"), "--saliency", "--smooth", "2", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    height, width = mpimg.imread(out).shape[:2]
    assert (width, height) == (round(FIGURE_WIDTH * DPI), round(figure_height(4, saliency=True) * DPI))


def test_figure_names_are_unique_and_deterministic():
    assert figure_names(["d/15a01La.wav", "d/16a04Fa.wav"]) == ["15a01La.png", "16a04Fa.png"]
    assert figure_names(["a/x.wav", "b/x.wav"]) == ["a_x.png", "b_x.png"]  # the folder that tells them apart
    assert figure_names(["p/q/a/x.wav", "r/q/a/x.wav"]) == ["p_q_a_x.png", "r_q_a_x.png"]
    # one folder, two formats: only an index tells them apart; a name made for a clash stays unique
    assert figure_names(["a/x.wav", "a/x.flac", "b/x.wav", "a_x.wav"]) == ["a_x.png", "a_x-2.png", "b_x.png",
                                                                          "a_x-3.png"]
    assert figure_names(["/A/x.wav", "/a/X.wav"]) == ["x.png", "X-2.png"]  # case-insensitive file systems
    paths = ["a/x.wav", "b/x.wav", "a/x.flac", "c/y.wav"]
    assert figure_names(paths) == figure_names(list(paths))


@pytest.mark.slow  # three explain processes with the shipped model
def test_same_names_in_two_folders_get_two_figures(tmp_path):
    for folder, clip in (("a", "15a01La.wav"), ("b", "16a04Fa.wav")):
        (tmp_path / folder).mkdir()
        os.symlink(os.path.join(EXAMPLES, clip), tmp_path / folder / "x.wav")

    def explain(*args):
        done = subprocess.run([sys.executable, "-m", "kerasser_cli", "explain", *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        return done.stdout.splitlines()

    assert explain("a/x.wav", "b/x.wav", "a", "./b", "--out", "figures") == [
        os.path.join("figures", "a_x.png"), os.path.join("figures", "b_x.png")]  # each file once
    assert sorted(os.listdir(tmp_path / "figures")) == ["a_x.png", "b_x.png"]
    for folder in ("a", "b"):  # each figure is its own file's: the same pixels as that file drawn alone
        explain(f"{folder}/x.wav", "--out", f"{folder}.png")
        assert np.array_equal(mpimg.imread(tmp_path / "figures" / f"{folder}_x.png"), mpimg.imread(tmp_path / f"{folder}.png"))
    assert not np.array_equal(mpimg.imread(tmp_path / "a.png"), mpimg.imread(tmp_path / "b.png"))
