"""The repository stands alone: its documents link only to files that exist in it."""

import re
import sys
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


# A dotted name in backticks, e.g. `exact.log_marginal` or `VAE.elbo`; file names are not code.
DOTTED_NAME = re.compile(r"`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?:\(\))?`")
FILE_SUFFIXES = {"py", "md", "csv", "json", "toml", "sh", "txt", "png", "zip"}
# Names of other projects and Streamlit config options: documented elsewhere, not ours to check.
EXTERNAL_ROOTS = {
    "torch",
    "streamlit",
    "st",
    "server",
    "runner",
    "np",
    "numpy",
    "plotly",
    "ray",
    "BackMsg",
    "ForwardMsg",
}


def _vae_core_namespace() -> dict[str, object]:
    """Every vae_core module by its short name and every public class by its name."""
    import importlib
    import inspect
    import pkgutil

    import vae_core

    namespace: dict[str, object] = {"vae_core": vae_core}
    for info in pkgutil.walk_packages(vae_core.__path__, "vae_core."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        namespace.setdefault(info.name.rsplit(".", 1)[1], module)
        for name, value in vars(module).items():
            if inspect.isclass(value) and value.__module__.startswith("vae_core"):
                namespace.setdefault(name, value)
    return namespace


def _resolves(dotted: str, namespace: dict[str, object]) -> bool:
    first, *rest = dotted.split(".")
    target = namespace.get(first)
    if target is None:
        return False
    for part in rest:
        if not hasattr(target, part):
            # A submodule not imported as an attribute of its package yet.
            qualified = f"{getattr(target, '__name__', '')}.{part}"
            if qualified in sys.modules:
                target = sys.modules[qualified]
                continue
            return False
        target = getattr(target, part)
    return True


def test_every_dotted_name_the_docs_cite_exists():
    namespace = _vae_core_namespace()
    cited = {
        (document.name, name)
        for document in DOCUMENTS
        for name in DOTTED_NAME.findall(document.read_text())
        if name.rsplit(".", 1)[1] not in FILE_SUFFIXES and name.split(".")[0] not in EXTERNAL_ROOTS
    }
    assert len(cited) > 10, "the pattern no longer finds the docs' code names"
    missing = sorted(f"{doc}: {name}" for doc, name in cited if not _resolves(name, namespace))
    assert not missing, f"the docs name code that does not exist: {missing}"
