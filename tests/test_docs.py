"""The repository stands alone: its documents link only to files that exist in it."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])
# [text](target) with a relative target: no scheme, not a pure #anchor.
LINK = re.compile(r"\[[^\]]*\]\((?![a-z]+:|#)([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(document):
    targets = LINK.findall(document.read_text())
    missing = [t for t in targets if not (document.parent / t).exists()]
    assert not missing, f"{document.name} links to missing files: {missing}"


def test_the_docs_index_lists_every_page():
    index = (REPO / "docs" / "README.md").read_text()
    pages = {p.name for p in (REPO / "docs").glob("*.md")} - {"README.md"}
    assert pages, "no documentation pages"
    assert not [name for name in pages if f"({name})" not in index]


def test_nothing_points_outside_the_repository():
    tracked = [
        p
        for p in REPO.rglob("*")
        if p.is_file()
        and p.suffix in {".py", ".md", ".toml", ".sh"}
        and not {".git", ".venv"} & set(p.relative_to(REPO).parts)
    ]
    outside = [
        str(p.relative_to(REPO))
        for p in tracked
        if re.search(r"\.\./shared|\bSCIENCE\.md|\bSTYLE\.md", p.read_text())
    ]
    assert not outside
