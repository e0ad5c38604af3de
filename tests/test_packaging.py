"""Every package folder is installed: pyproject.toml lists packages explicitly (the repository
root is mapped to ``wearstream``), so a new sub-package that is not listed would work from the
checkout and be missing from a wheel."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALLED = ("domain", "ports", "adapters", "entrypoints", "testing")


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        "wearstream." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in INSTALLED
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - found - {"wearstream"} == set(), "these are listed but are not package folders"
