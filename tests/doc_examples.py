"""The examples of README.md and docs/, read from their fenced blocks, and the sandbox they run in
(tests/test_doc_examples.py runs them).

A ```` ```bash ```` block is run by bash (``-e -o pipefail``), a ```` ```python ```` block by a fresh
Python; an HTML comment right above a fence tells the runner more (invisible on the site and on
GitHub):

- ``<!-- test: slow -->``: the block trains, exports or starts Beam (the page's test is marked slow);
- ``<!-- test: output -->`` above a ```` ```text ```` block: it is the previous example's standard
  output, compared line by line (numbers to 0.01);
- ``<!-- test: file NAME -->`` above any block: its text is written to NAME in the sandbox first (a
  manifest the next example reads);
- ``<!-- test: install -->``: a command that installs kerasser; it runs as written in a fresh copy of
  the repository, with the package index (tests/test_doc_examples.py::test_install_examples);
- ``<!-- test: ci -->``: the command CI runs; .ci/run must run it as written;
- ``<!-- test: names -->``: an app's code for a runtime the tests have not got (Kotlin, Swift): not
  run, but every name it quotes must be one of the export contract's (file, signature, input and
  output names; tests/test_doc_examples.py::test_app_snippets_use_the_contracts_names).

Every example must exit 0, and no line of TensorFlow's, absl's or LiteRT's start-up logging may reach
the stderr of a command or of Python that uses kerasser (``NOISE``; a snippet that calls LiteRT
itself shows what LiteRT prints).

A page's examples run in order in one sandbox (``Sandbox``), a folder laid out as a checkout beside
``../shared/data``: ``examples/`` and ``exported/`` (the shipped models) as in the repository;
``../shared/data/{emodb,baved}`` tiny corpora of a few real clips (a few speakers of each split);
``meeting.wav``, a 35 s recording of the example clips with pauses between them; ``docs/`` and
``runs/`` empty. On its PATH, ``kerasser`` runs ``python -m kerasser_cli`` of this checkout and
appends ``--epochs 1`` to ``train``, ``crossval`` and ``tune`` (and ``--trials 2`` to ``tune``), so a
documented 60-epoch training runs one epoch on the tiny corpus; ``arecord`` plays ``meeting.wav`` as
a 16 kHz WAV stream at ten times real time, standing in for a microphone.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHELL = ("bash", "sh", "shell")
PYTHON = ("python",)
FENCE = re.compile(r"^(?:<!-- test: (?P<directive>[^>]*?) -->\n)?```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```[ \t]*$",
                   re.M | re.S)
NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")
# What TensorFlow, absl, CUDA probing and LiteRT print at start-up: no example may show a user any of
# it (nor may kerasser's real train / evaluate / explain processes: tests/test_quiet_commands.py)
NOISE = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog|oneDNN|cuda|XNNPACK|AVX|tensorflow", re.I)


@dataclass
class Block:
    page: str
    line: int
    lang: str
    body: str
    directive: list[str] = field(default_factory=list)

    @property
    def runs(self) -> bool:
        return self.lang in SHELL + PYTHON and not {"install", "ci"} & set(self.directive)

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[str]:
    """README.md and every docs/ page, relative to the repository (docs/ in mkdocs.yml's nav order
    first, so a page runs after the pages whose runs it uses)."""
    nav = re.findall(r":\s*([\w/.-]+\.md)\s*$", (REPO / "mkdocs.yml").read_text(), re.M)
    found = [f"docs/{p}" for p in nav if (REPO / "docs" / p).is_file()]
    found += sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").rglob("*.md") if str(p.relative_to(REPO))
                    not in found)
    return ["README.md", *found]


def blocks(page: str) -> list[Block]:
    text = (REPO / page).read_text(encoding="utf-8")
    found = []
    for m in FENCE.finditer(text):
        directive = (m.group("directive") or "").split()
        found.append(Block(page, text.count("\n", 0, m.start("body")), m.group("lang"), m.group("body"), directive))
    return found


def same_output(expected: str, actual: str) -> bool:
    """``actual`` is ``expected`` line for line (trailing spaces aside), numbers within 0.01."""
    want, got = expected.rstrip().splitlines(), actual.rstrip().splitlines()
    if len(want) != len(got):
        return False
    for a, b in zip(want, got):
        if NUMBER.sub("#", a.rstrip()) != NUMBER.sub("#", b.rstrip()):
            return False
        if any(abs(float(x) - float(y)) > 0.01 for x, y in zip(NUMBER.findall(a), NUMBER.findall(b))):
            return False
    return True


KERASSER_SHIM = """\
import runpy
import sys

args = sys.argv[1:]
command = next((a for a in args if not a.startswith("-")), None)
if command in ("train", "crossval", "tune"):
    args += ["--epochs", "1"]  # tiny data, one epoch: the documented command runs in seconds
if command == "tune":
    args += ["--trials", "2"]
sys.argv = ["kerasser", *args]
runpy.run_module("kerasser_cli", run_name="__main__", alter_sys=True)
"""

ARECORD_SHIM = """\
import sys
import time

data = open(sys.argv[-1] if len(sys.argv) > 1 and sys.argv[-1].endswith(".wav") else "meeting.wav", "rb").read()
out = sys.stdout.buffer
out.write(data[:44])
for i in range(44, len(data), 3200):  # 0.1 s of 16 kHz 16-bit mono at a time, at 10 times real time
    out.write(data[i:i + 3200])
    out.flush()
    time.sleep(0.01)
"""


def _tiny_corpus(reader, source: Path, target: Path, per_split: dict[str, int], keep=lambda u: True) -> None:
    """``target``: a copy of ``source`` (symbolic links) with ``per_split`` utterances of each split,
    spread over its speakers, and every file that is not audio (metadata, syllable marks)."""
    utterances = [u for u in reader(source) if keep(u)]
    chosen = []
    for split, n in per_split.items():
        pool = [u for u in utterances if u.split == split]
        speakers = sorted({u.speaker for u in pool})[: max(1, n // 3)]
        for speaker in speakers:
            chosen += [u for u in pool if u.speaker == speaker][: n // len(speakers)]
    for item in source.iterdir():
        if item.suffix != ".wav" and not (item.is_dir() and any(item.glob("*.wav"))):
            (target / item.name).symlink_to(item)
    for u in chosen:
        path = target / Path(u.path).relative_to(source)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(u.path)


def _meeting(examples: Path, target: Path) -> None:
    import numpy as np
    import soundfile as sf

    from kerasser.data.audio import load

    rng = np.random.default_rng(0)
    parts = []
    for wav in sorted(examples.glob("*.wav")) * 2:
        gap = rng.uniform(0.5, 2.5)
        parts += [np.zeros(int(gap * 16000), np.float32), load(wav, 16000)]
    audio = np.concatenate(parts) + rng.normal(0, 1e-4, sum(len(p) for p in parts)).astype(np.float32)
    sf.write(target, audio, 16000, subtype="PCM_16")


class Sandbox:
    """A folder laid out as a checkout beside ``../shared/data`` (the module docstring), where the
    examples run."""

    def __init__(self, root: Path, shared_data: Path):
        from kerasser.data.corpora import read_baved, read_emodb

        self.root, self.cwd = root, root / "repo"
        self.done: dict[str, int] = {}  # page -> examples run
        self.stdout = ""
        for name in ("docs", "runs", "exported", "bin"):
            (self.cwd / name).mkdir(parents=True, exist_ok=True)
        (self.cwd / "examples").symlink_to(REPO / "examples")
        for model in (REPO / "exported").iterdir():
            (self.cwd / "exported" / model.name).symlink_to(model)
        data = root / "shared" / "data"
        (data / "emodb").mkdir(parents=True)
        _tiny_corpus(read_emodb, shared_data / "emodb", data / "emodb", {"train": 6, "dev": 3, "test": 3})
        (data / "baved").mkdir()
        _tiny_corpus(read_baved, shared_data / "baved", data / "baved", {"train": 6, "dev": 3, "test": 6})
        (data / "PROTOCOL.md").symlink_to(shared_data / "PROTOCOL.md")
        _meeting(REPO / "examples", self.cwd / "meeting.wav")
        for name, source in (("kerasser", KERASSER_SHIM), ("arecord", ARECORD_SHIM)):
            path = self.cwd / "bin" / name
            path.write_text(f"#!{sys.executable}\n{source}")
            path.chmod(0o755)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KERASSER_")}
        self.env.update(
            PATH=f"{self.cwd / 'bin'}{os.pathsep}{os.environ['PATH']}",
            PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
            MPLBACKEND="Agg",
        )

    def run(self, block: Block) -> subprocess.CompletedProcess:
        if block.lang in PYTHON:
            command = [sys.executable, "-c", block.body]
        else:
            command = ["bash", "-e", "-o", "pipefail", "-c", block.body]
        return subprocess.run(command, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=900)

    def run_page(self, page: str) -> int:
        """Run ``page``'s examples in order; the number run. Fails on the first that exits non-zero or
        whose shown output differs."""
        count, last, previous = 0, None, None
        for block in blocks(page):
            if "file" in block.directive:
                name = block.directive[block.directive.index("file") + 1]
                (self.cwd / name).write_text(block.body + "\n")
            if "output" in block.directive:
                if previous is not None and not previous.runs:  # an install command's: run elsewhere
                    continue
                assert last is not None and previous is not None, f"{block.where}: an output block follows no example"
                assert same_output(block.body, last.stdout), (
                    f"{block.where}: the example's output differs from the page's\n--- page:\n{block.body}\n"
                    f"--- output:\n{last.stdout}")
                continue
            previous = block
            if not block.runs:
                continue
            last = self.run(block)
            count += 1
            assert last.returncode == 0, (
                f"{block.where}: exit {last.returncode}\n{block.body}\n--- stdout:\n{last.stdout[-3000:]}"
                f"\n--- stderr:\n{last.stderr[-3000:]}")
            ours = block.lang in SHELL or "kerasser" in block.body  # a bare LiteRT snippet logs as LiteRT does
            noise = [line for line in last.stderr.splitlines() if ours and NOISE.search(line)]
            assert not noise, f"{block.where}: library log lines reached stderr\n" + "\n".join(noise[:5])
        self.done[page] = count
        return count


def copy_checkout(target: Path) -> None:
    """The repository's tracked files (as a fresh clone has them) copied to ``target``."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in listed.decode().split("\0"):
        if name and (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
