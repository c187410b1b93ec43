"""``--help`` is short and ends with examples the documentation runs; ``--version`` and ``-V`` give
the installed package's version."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner
from doc_examples import REPO, blocks, pages
from kerasser_cli.main import cli

MOST_LINES = 60
# Commands whose examples train many models (hours on a CPU, minutes on tiny data): the documentation
# gives their example in its text, not as a block the tests run; here it must parse as a command
# line, and tests/test_crossval.py and tests/test_tuning.py run them on small models.
TOO_LONG_TO_RUN = {"crossval", "tune"}


def _help(*args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output


def _examples(text: str) -> list[str]:
    """The command lines under a help's ``Example:`` / ``Examples:`` heading."""
    _, _, tail = text.partition("Example")
    return [" ".join(line.split()) for line in tail.splitlines()[1:] if line.strip().startswith("kerasser ")]


def _documented() -> set[str]:
    """Every command line of the examples README.md and docs/ run."""
    lines = set()
    for page in pages():
        for block in blocks(page):
            if block.runs:
                lines |= {" ".join(line.split("  #")[0].split()) for line in block.body.splitlines()}
    return lines


def _docs_text() -> str:
    return " ".join(" ".join((REPO / page).read_text().split()) for page in pages()).replace("`", " ")


@pytest.mark.parametrize("command", [None, *sorted(cli.commands)])
def test_help_is_short_with_examples_the_docs_run(command):
    text = _help(*([command] if command else []))
    assert len(text.splitlines()) <= MOST_LINES, f"kerasser {command} --help: {len(text.splitlines())} lines"
    examples = _examples(text)
    assert examples, f"kerasser {command} --help gives no example"
    documented = _documented()
    for example in examples:
        if command in TOO_LONG_TO_RUN:
            assert example in _docs_text(), f"kerasser {command} --help: {example!r} is in no page"
            args = example.split()[1:]
            with cli.commands[args[0]].make_context(args[0], args[1:]):
                pass
            continue
        assert example in documented, f"kerasser {command} --help: {example!r} is run by no documentation example"


@pytest.mark.parametrize("command", ["train", "crossval", "tune", "label"])
def test_help_all_lists_every_option(command):
    short, every = _help(command), CliRunner().invoke(cli, [command, "--help-all"], terminal_width=80).output
    hidden = int(re.search(r"(\d+) more options: kerasser \w+ --help-all", " ".join(short.split())).group(1))
    options = [p for p in cli.commands[command].params if isinstance(p, click.Option)]
    shown_all = [p for p in options if any(opt in every for opt in p.opts)]
    assert len(shown_all) == len(options)  # --help-all: every option
    assert hidden > 0 and len(every.splitlines()) > len(short.splitlines())


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_is_the_installed_packages(flag):
    result = CliRunner().invoke(cli, [flag], prog_name="kerasser")
    assert result.exit_code == 0
    assert result.output.strip() == f"kerasser, version {importlib.metadata.version('kerasser')}"


def test_version_from_the_console():
    out = subprocess.run([sys.executable, "-m", "kerasser_cli", "-V"], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == importlib.metadata.version("kerasser")
