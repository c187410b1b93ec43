"""Every shell and Python example of README.md and docs/ runs (tests/doc_examples.py says how, and
in which sandbox): one test per page, its examples in order; the install command in a fresh copy of
the repository; the test command is .ci/run's own."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from doc_examples import REPO, Block, Sandbox, blocks, copy_checkout, pages, same_output

# Pages that use what an earlier page made in the sandbox (runs/emodb, runs/emodb-s1, runs/ensemble).
REQUIRES = {
    "docs/evaluation.md": ["README.md", "docs/training.md"],
    "docs/export.md": ["docs/training.md"],
}


def _slow(page: str) -> bool:
    return any("slow" in b.directive for b in blocks(page)) or any(_slow(p) for p in REQUIRES.get(page, ()))


def _params():
    return [pytest.param(p, id=p, marks=[pytest.mark.slow] if _slow(p) else []) for p in pages()
            if any(b.runs for b in blocks(p))]


@pytest.fixture(scope="module")
def sandbox(shared_data, tmp_path_factory) -> Sandbox:
    """The one sandbox every page's examples run in, in order."""
    return Sandbox(tmp_path_factory.mktemp("examples"), shared_data)


def _run(sandbox: Sandbox, page: str) -> int:
    for needed in REQUIRES.get(page, ()):
        if needed not in sandbox.done:
            _run(sandbox, needed)
    return sandbox.run_page(page)


@pytest.mark.parametrize("page", _params())
def test_page_examples(page, sandbox):
    if page not in sandbox.done:  # not run already, for a page that needed it
        _run(sandbox, page)
    assert sandbox.done[page] > 0


def test_every_block_is_an_example_its_output_or_a_file():
    """A fenced block is run, or is an example's output, a file an example reads, the install or
    CI command: none is left unchecked (a command shown as ```text would be)."""
    for page in pages():
        for block in blocks(page):
            known = block.runs or {"install", "ci", "output", "file", "names"} & set(block.directive)
            assert known, f"{block.where}: a ```{block.lang} block that no test runs or checks"


def test_app_snippets_use_the_contracts_names():
    """A block marked ``names`` (an app's code for a runtime the tests have not got: Kotlin, Swift)
    quotes only names of the export contract: file, signature, input and output names
    (kerasser.contract, the tasks); a renamed tensor or file fails here instead of in an app."""
    from kerasser import contract
    from kerasser.tasks import TASKS

    allowed = {contract.INPUT_NAME, contract.CHUNK_NAME, contract.STATE_NAME, contract.SIGNATURE_KEY,
               contract.STEP_FILE, contract.METADATA_FILE, *contract.TFLITE_FILES.values(), *TASKS}
    marked = [b for p in pages() for b in blocks(p) if "names" in b.directive]
    assert marked, "docs/devices.md has the Kotlin and Swift snippets"
    for block in marked:
        quoted = re.findall(r'"([^"\n]*)"', block.body)
        assert quoted, f"{block.where}: quotes no name"
        unknown = sorted(set(quoted) - allowed)
        assert not unknown, f"{block.where}: {unknown} are not names of the export contract"


def _install_blocks() -> list[tuple[Block, Block | None]]:
    found = []
    for page in pages():
        page_blocks = blocks(page)
        for i, block in enumerate(page_blocks):
            if "install" in block.directive:
                after = page_blocks[i + 1] if i + 1 < len(page_blocks) else None
                found.append((block, after if after is not None and "output" in after.directive else None))
    return found


@pytest.mark.slow
def test_install_examples(tmp_path):
    """The install-and-label command, as written, in a fresh copy of the repository with a clean
    environment: it installs (the package index, or pip's cache) and labels as the page shows."""
    installs = _install_blocks()
    assert installs, "README.md starts with an install command"
    checkout = tmp_path / "kerasser"
    copy_checkout(checkout)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("KERASSER_")}
    for body in dict.fromkeys(b.body for b, _ in installs):  # the same command on several pages runs once
        done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", body], cwd=checkout, env=env,
                              capture_output=True, text=True, timeout=900)
        if done.returncode != 0 and "pip" in done.stderr and os.environ.get("CI") != "true" and (
                "Could not find a version" in done.stderr or "Failed to establish" in done.stderr):
            pytest.skip(f"no package index: {done.stderr.strip()[-300:]}")
        assert done.returncode == 0, f"{body}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        for block, output in installs:
            if block.body == body and output is not None:
                assert same_output(output.body, done.stdout), f"{output.where}: differs\n{done.stdout}"


def test_ci_examples_are_what_ci_runs():
    """The test command shown (after its virtual environment line) is .ci/run's, line for line,
    and .ci/run makes a fresh virtual environment first."""
    ci = (REPO / ".ci" / "run").read_text()
    shown = [b for p in pages() for b in blocks(p) if "ci" in b.directive]
    assert shown
    assert "python3 -m venv" in ci and "/bin/activate" in ci
    for block in shown:
        for line in block.body.splitlines():
            parts = [p.strip() for p in line.split("#")[0].split("&&") if p.strip()]
            for part in parts:
                if "-m venv" not in part and "/activate" not in part:
                    assert part in ci, f"{block.where}: .ci/run does not run {part!r}"


def count_examples() -> dict[str, tuple[int, int]]:
    """Per page: the blocks the tests run and the commands (or Python statements' blocks) in them."""
    counted = {}
    for page in pages():
        run = [b for b in blocks(page) if b.runs]
        commands = sum(1 if b.lang == "python" else sum(1 for line in b.body.splitlines()
                                                        if line.strip() and not line.startswith((" ", "#")))
                       for b in run)
        counted[page] = (len(run), commands)
    return counted


def test_examples_count():
    """README.md's main commands and every docs/ page with a command run; in all, dozens."""
    counted = count_examples()
    assert counted["README.md"][1] == 5 and _install_blocks()
    assert sum(c for _, c in counted.values()) >= 45, counted


if __name__ == "__main__":  # python tests/test_doc_examples.py: the count, per page
    for page, (run, commands) in count_examples().items():
        print(f"{page:24} {run:3} blocks {commands:3} commands")
