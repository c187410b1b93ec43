"""mkdocs hook: adds the pages ``docs/gen_pages.py`` makes from the repository's records (results,
model zoo, training options, root files) to the site at build time; none is kept in ``docs/``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from mkdocs.structure.files import File

HERE = Path(__file__).resolve().parent


def _generator():
    sys.path.insert(0, str(HERE.parent))  # the checkout's kerasser (the options table, the licences)
    spec = importlib.util.spec_from_file_location("kerasser_doc_pages", HERE / "gen_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def on_files(files, config):
    for path, content in _generator().pages().items():
        if files.get_file_from_path(path) is not None:
            raise ValueError(f"docs/{path} is generated: remove the file from docs/")
        files.append(File.generated(config, path, content=content))
    return files
