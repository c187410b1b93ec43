"""The rooms of ``kerasser/`` (ARCHITECTURE.md) and the direction of the imports between them.

Every module's imports, those inside functions included, are read with ``ast``: each import may
run only to the module's own room or a room below it, the modules import one another without a
cycle, and ``kerasser`` never imports the command line (``kerasser/__main__.py``, the
``python -m kerasser`` entry, is the one exception). A fresh process checks that the labelling
path (``kerasser.serve``, ``kerasser label``) imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kerasser"

# Lowest first. A module lives in the room of its folder; the top-level modules are the facts
# every room may use, and each is named here, so a new one is placed on purpose.
ROOMS = ("facts", "data", "model", "serve", "training", "evaluate", "export")
FACTS = {"kerasser", "kerasser.config", "kerasser.contract", "kerasser.errors", "kerasser.extras",
         "kerasser.figures", "kerasser.metrics", "kerasser.native_output", "kerasser.progress",
         "kerasser.tasks", "kerasser.text", "kerasser.text_input"}
# ``kerasser.layers``: the public name of ``kerasser.model.layers`` (a re-export, model room).
FACADES = {"kerasser.layers": "model"}
ENTRY = "kerasser.__main__"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def room_of(module: str) -> str:
    if module in FACADES:
        return FACADES[module]
    if module in FACTS:
        return "facts"
    parts = module.split(".")
    if len(parts) > 2 and parts[1] in ROOMS:
        return parts[1]
    if len(parts) == 2 and parts[1] in ROOMS:  # a room's own __init__
        return parts[1]
    raise AssertionError(f"{module}: in no room; put it in a room's folder or name it in FACTS")


def _target(name: str) -> str:
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def imports_of(module: str) -> set[str]:
    """The kerasser modules ``module`` imports (``from kerasser.data import audio``: the module
    ``kerasser.data.audio``), and ``kerasser_cli`` if it imports the command line."""
    found = set()
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):  # annotations only: not an import at run time
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                     for a in node.names]
        else:
            assert not (isinstance(node, ast.ImportFrom) and node.level), f"{module}: a relative import"
            continue
        for name in names:
            if name.split(".")[0] == "kerasser_cli":
                found.add("kerasser_cli")
            elif name.split(".")[0] == "kerasser":
                found.add(_target(name))
    found.discard(module)
    return found


GRAPH = {m: imports_of(m) for m in MODULES if m != ENTRY}


def test_every_module_is_in_a_room():
    assert {room_of(m) for m in GRAPH} <= set(ROOMS)


def test_imports_run_down_the_rooms_only():
    upward = [f"{m} ({room_of(m)}) imports {t} ({room_of(t)})"
              for m, targets in GRAPH.items() for t in targets - {"kerasser_cli"}
              if ROOMS.index(room_of(t)) > ROOMS.index(room_of(m))]
    assert not upward, "\n".join(upward)


def test_kerasser_never_imports_the_command_line():
    assert [m for m, targets in GRAPH.items() if "kerasser_cli" in targets] == []
    assert imports_of(ENTRY) == {"kerasser_cli"}  # python -m kerasser: the one exception


def test_no_import_cycle():
    """Tarjan's strongly connected components of the module graph: each must be one module."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(m):
        index[m] = low[m] = len(index)
        stack.append(m)
        on_stack.add(m)
        for t in GRAPH.get(m, ()):
            if t not in GRAPH:
                continue
            if t not in index:
                visit(t)
                low[m] = min(low[m], low[t])
            elif t in on_stack:
                low[m] = min(low[m], index[t])
        if low[m] == index[m]:
            component = []
            while True:
                t = stack.pop()
                on_stack.discard(t)
                component.append(t)
                if t == m:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for m in GRAPH:
        if m not in index:
            visit(m)
    assert cycles == []


def test_public_names_still_work():
    import kerasser
    import kerasser.layers
    from kerasser.model import layers

    assert kerasser.layers.PCEN is layers.PCEN and set(kerasser.layers.__all__) == set(layers.__all__)
    assert {"Labeler", "load_model", "list_models", "read_corpus", "load_audio"} <= set(kerasser.__all__)
    assert kerasser.Labeler.__module__ == "kerasser.serve.labeling"


def test_labelling_imports_neither_tensorflow_nor_keras(tmp_path):
    """In a fresh process: ``import kerasser.serve`` and ``kerasser label`` on a clip with the
    shipped model (LiteRT), then TensorFlow and Keras must still be unimported."""
    clip = PACKAGE.parent / "examples" / "15a01La.wav"
    model = PACKAGE.parent / "exported" / "emodb-avde"
    if not (model / "model.tflite").is_file():
        pytest.skip("no exported model")
    code = (
        "import sys\n"
        "import kerasser.serve\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'import kerasser.serve'\n"
        "from click.testing import CliRunner\n"
        "from kerasser_cli.main import cli\n"
        f"r = CliRunner().invoke(cli, ['label', {str(clip)!r}, '--model', {str(model)!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "print(r.output.splitlines()[0]); print('tensorflow' in sys.modules, 'keras' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == ["False", "False"]


def test_shipped_files_are_the_contracts_names():
    """setup.py reads SHIPPED_FILES as text (no kerasser import at build time), so they are
    spelled there; they must be files the export contract names, and the sdist must carry them."""
    from kerasser import contract
    from kerasser.serve.shipped import SHIPPED_FILES, SHIPPED_MODELS

    named = {contract.METADATA_FILE, contract.MODEL_CARD_FILE, contract.KERAS_FILE, *contract.TFLITE_FILES.values()}
    assert set(SHIPPED_FILES) <= named
    manifest = (PACKAGE.parent / "MANIFEST.in").read_text().split()
    assert {f"exported/{m}/{f}" for m in SHIPPED_MODELS for f in SHIPPED_FILES} <= set(manifest)
