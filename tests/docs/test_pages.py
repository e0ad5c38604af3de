"""The README and docs/ stand alone: links resolve inside the repository, the system packages the
tests need are the ones CI installs, and every docs page is reachable from the README or docs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_every_relative_link_resolves_inside_the_repository() -> None:
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if re.match(r"^[a-z]+:", target):
                continue  # http(s):, mailto:
            resolved = (page.parent / target).resolve()
            assert resolved.is_relative_to(ROOT), f"{page.name} links outside the repository: {target}"
            assert resolved.exists(), f"{page.name} links to a missing file: {target}"


def test_no_page_points_outside_the_repository() -> None:
    for page in PAGES:
        text = page.read_text()
        for outside in ("../shared/", "shared/DESIGN.md", "shared/protocol.md", "steering repo"):
            assert outside not in text, f"{page.name} mentions {outside!r}"


def test_the_readme_names_every_system_package_ci_installs() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    packages = re.findall(r"need\+=\(([\w.-]+)\)", ci)
    assert packages
    readme = (ROOT / "README.md").read_text()
    for package in packages:
        assert f"`{package}`" in readme, f"README does not name the system package {package}"


def test_every_docs_page_is_linked_from_somewhere() -> None:
    text = "\n".join(page.read_text() for page in PAGES)
    for page in PAGES[1:]:
        assert f"{page.name})" in text, f"no page links to docs/{page.name}"
