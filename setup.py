"""setup.cfg holds the metadata; this file only adds the shipped models to built packages.

``build_py`` copies each shipped model's serving files (``kerasser.serve.shipped.SHIPPED_MODELS`` and
``SHIPPED_FILES``) from ``exported/<name>/`` into ``kerasser/serve/shipped/<name>/`` of the build, so a
wheel or a non-editable install labels out of the box (``--model NAME`` too) while ``exported/``
stays the one place models are built into.
"""

import re
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


def _shipped():
    source = (ROOT / "kerasser" / "serve" / "shipped" / "__init__.py").read_text()
    models = re.search(r"^SHIPPED_MODELS = \(([^)]*)\)", source, re.M).group(1)
    files = re.search(r"^SHIPPED_FILES = \(([^)]*)\)", source, re.M).group(1)
    return re.findall(r'"([^"]+)"', models), re.findall(r'"([^"]+)"', files)


class BuildWithModel(build_py):
    def run(self):
        super().run()
        models, files = _shipped()
        for model in models:
            source = ROOT / "exported" / model
            target = Path(self.build_lib) / "kerasser" / "serve" / "shipped" / model
            target.mkdir(parents=True, exist_ok=True)
            for name in files:
                if not (source / name).is_file():
                    raise SystemExit(f"{source / name}: missing; the shipped models must be exported before building")
                shutil.copy2(source / name, target / name)


setup(cmdclass={"build_py": BuildWithModel})
