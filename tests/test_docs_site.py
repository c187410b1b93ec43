"""The documentation: a short README whose results table is made from the records, a site that
builds without a warning and shows every results file, and the files every project has."""

from __future__ import annotations

import configparser
import importlib.util
import re
import shutil
import subprocess
import sys

import pytest
from doc_examples import REPO

from kerasser.data.corpora.terms import CORPUS_TERMS


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("gen_pages", REPO / "docs" / "gen_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _version() -> str:
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    return config["metadata"]["version"]


def test_readme_is_short_and_no_lab_notebook():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) < 200
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", text), "a date"
    assert not re.search(r"\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,40}\b", text), "a commit hash"
    assert not re.search(r"\bissue\b|\baim \(\d\)", text, re.I), "issue talk"


def test_readme_table_is_the_records(gen):
    assert gen.results_table() in (REPO / "README.md").read_text(), "rerun python docs/gen_pages.py"


def test_results_table_reads_the_shipped_metadata(gen):
    rows = {line.split("|")[1].strip(): line for line in gen.results_table().splitlines()}
    meta = gen.metadata("emodb-avde")
    row = next(line for name, line in rows.items() if name.startswith("[emodb-avde]"))
    assert f"| {meta['test']['uar']['emotion']:.1f} |" in row
    assert any(name.startswith("peer: ECAPA-TDNN") for name in rows)


def test_every_results_file_is_on_a_page(gen):
    shown = {name for _, _, files in gen.RESULT_PAGES.values() for name in files}
    kept = {p.name for p in (REPO / "benchmarks" / "results").iterdir() if p.is_file()}
    assert kept == shown, f"not on a page: {sorted(kept - shown)}; not kept: {sorted(shown - kept)}"


def test_every_nav_page_exists_or_is_made(gen):
    nav = re.findall(r":\s*([\w/.-]+\.md)\s*$", (REPO / "mkdocs.yml").read_text(), re.M)
    made = gen.pages()
    for page in nav:
        assert (REPO / "docs" / page).is_file() != (page in made), page  # one or the other, never both
    for model in gen.shipped_models():
        assert f"models/{model}.md" in nav


def test_model_pages_say_which_data_and_terms(gen):
    for model in gen.shipped_models():
        page = gen.pages()[f"models/{model}.md"]
        for corpus, _ in gen.metadata(model)["training"]["corpora"]:
            assert CORPUS_TERMS[corpus] in page


@pytest.mark.slow  # a subprocess that imports the library for mkdocstrings
def test_mkdocs_build_strict(tmp_path):
    if importlib.util.find_spec("mkdocs") is None:
        pytest.skip("mkdocs is not installed (the dev extra)")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "results" / "accuracy" / "index.html").is_file()
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    assert "process_folder" in api and "export_run" in api  # mkdocstrings read the docstrings
    shutil.rmtree(tmp_path / "site")


def test_changelog_keeps_a_changelog():
    text = (REPO / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in text
    assert re.search(rf"^## \[{re.escape(_version())}\] - \d{{4}}-\d\d-\d\d$", text, re.M)
    for heading in re.findall(r"^### (.+)$", text, re.M):
        assert heading in ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"), heading


def test_citation_names_the_project_papers_and_corpora():
    yaml = pytest.importorskip("yaml")  # PyYAML: mkdocs' (the dev extra)
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["version"] == _version() and cff["license"] == "Apache-2.0"
    titles = " ".join(ref["title"] for ref in cff["references"])
    for words in ("Attention-Augmented End-to-End Multi-Task", "Speech Emotion Recognition with Multi-Task",
                  "German Emotional Speech", "RAVDESS", "BAVED"):
        assert words in titles


def test_licence_files():
    assert "Apache License" in (REPO / "LICENSE").read_text() and "Version 2.0" in (REPO / "LICENSE").read_text()
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    assert config["metadata"]["license"] == "Apache-2.0"
    notice = (REPO / "LICENSES.md").read_text()
    for words in ("EmoDB", "CC BY-NC-SA 4.0", "BAVED", "advise against commercial use", "emodb-avde-ensemble"):
        assert words in notice
    for name in ("CONTRIBUTING.md", "CHANGELOG.md", "CITATION.cff"):
        assert (REPO / name).is_file()


def test_model_card_commands_parse(tmp_path, monkeypatch):
    """The commands a model card (and so its zoo page) gives to rebuild the model are valid command
    lines of today's kerasser (the same commands on tiny data are what the doc examples run)."""
    import shlex

    from kerasser_cli.main import cli

    monkeypatch.chdir(tmp_path)
    seen = 0
    for card in sorted((REPO / "exported").glob("*/MODEL_CARD.md")):
        for block in re.findall(r"```bash\n(.*?)```", card.read_text(), re.S):
            for line in filter(None, block.splitlines()):
                args = shlex.split(line)
                assert args[0] == "kerasser", line
                for arg in args:
                    if arg.startswith("runs/"):
                        (tmp_path / arg).mkdir(parents=True, exist_ok=True)
                with cli.commands[args[1]].make_context(args[1], args[2:]):
                    seen += 1
    assert seen >= 7
