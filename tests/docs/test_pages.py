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


ANCHOR_LINK = re.compile(r"\]\(([^)#\s]*)#([^)\s]+)\)")


def anchors(page: Path) -> set[str]:
    """The anchors GitHub makes of a page's headings: lower case, punctuation dropped, spaces as
    hyphens, a repeated heading numbered (-1, -2, …). Headings inside code blocks do not count."""
    found: set[str] = set()
    fenced = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        heading = None if fenced else re.match(r"#{1,6} (.+)", line)
        if heading:
            slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
            unique, n = slug, 0
            while unique in found:
                n += 1
                unique = f"{slug}-{n}"
            found.add(unique)
    return found


def test_every_link_to_a_section_finds_its_heading() -> None:
    for page in PAGES:
        for target, anchor in ANCHOR_LINK.findall(page.read_text()):
            if re.match(r"^[a-z]+:", target) or not (target == "" or target.endswith(".md")):
                continue
            linked = page if target == "" else (page.parent / target).resolve()
            assert anchor in anchors(linked), f"{page.name} links to a missing section: {target}#{anchor}"
