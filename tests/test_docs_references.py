"""The references in the code resolve: every "design.md §N" / "graph-api.md §N" a comment or
docstring cites names a section of docs/, graph-api.md §13 lists every sandbox behaviour, and
every test file the README, docs/, the code or the project's settings name is there."""

from __future__ import annotations

import re
from pathlib import Path

from services.sandbox.config import BEHAVIOURS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SOURCE_DIRS = ("app", "widgets", "services", "scripts", "tests")

# "tests/services/test_i18n.py", "tests/snapshots/", "tests/services/*/test_properties_*.py".
TEST_PATH = re.compile(r"\btests/[\w/.*-]*")
# A test module named alone ("`test_batch_executor.py`"): found anywhere under tests/.
TEST_NAME = re.compile(r"(?<![\w/])test_\w+\.py\b")

# "graph-api.md §3.2, §4, §11" or "design.md §3": the file, then one or more sections.
CITATION = re.compile(r"\b(design|graph-api)\.md\)?\s*((?:§\s*[\d.]*\d[,;]?\s*(?:and\s*)?)+)")
SECTION = re.compile(r"§\s*([\d.]*\d)")
HEADING = re.compile(r"^#{2,4}\s+([\d.]*\d)\.?\s", re.MULTILINE)


def sections(doc: str) -> set[str]:
    return set(HEADING.findall((DOCS / doc).read_text(encoding="utf-8")))


def citations() -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    for top in SOURCE_DIRS:
        for path in sorted((ROOT / top).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for match in CITATION.finditer(text):
                for section in SECTION.findall(match.group(2)):
                    found.append((str(path.relative_to(ROOT)), f"{match.group(1)}.md", section))
    return found


def test_the_cited_documents_are_in_the_project() -> None:
    for doc in ("design.md", "graph-api.md", "README.md"):
        assert (DOCS / doc).is_file(), f"docs/{doc} is missing"


def test_every_cited_section_exists() -> None:
    cited = citations()
    # The code cites these documents dozens of times; finding none means the pattern broke.
    assert len(cited) >= 30, cited
    known = {doc: sections(doc) for doc in ("design.md", "graph-api.md")}
    dangling = [(where, doc, s) for where, doc, s in cited if s not in known[doc]]
    assert not dangling, f"citations of sections docs/ does not have: {dangling}"


def test_graph_api_lists_every_sandbox_behaviour() -> None:
    text = (DOCS / "graph-api.md").read_text(encoding="utf-8")
    table = text.split("## 13.", 1)[1]
    missing = [b.name for b in BEHAVIOURS if f"`{b.name}`" not in table]
    assert not missing, f"graph-api.md §13 does not list: {missing}"


def _texts_naming_tests() -> list[Path]:
    texts = [ROOT / "README.md", ROOT / "pyproject.toml", ROOT / ".ci" / "run"]
    texts += sorted(DOCS.rglob("*.md"))
    for top in SOURCE_DIRS:
        texts += sorted((ROOT / top).rglob("*.py"))
    return texts


def test_every_test_path_named_exists() -> None:
    names = {p.name for p in (ROOT / "tests").rglob("test_*.py")}
    missing: list[tuple[str, str]] = []
    seen = 0
    for text_path in _texts_naming_tests():
        text = text_path.read_text(encoding="utf-8")
        where = str(text_path.relative_to(ROOT))
        for match in TEST_PATH.finditer(text):
            named = match.group(0).rstrip(".")
            seen += 1
            if not (list(ROOT.glob(named)) if "*" in named else (ROOT / named).exists()):
                missing.append((where, named))
        for match in TEST_NAME.finditer(text):
            seen += 1
            if match.group(0) not in names:
                missing.append((where, match.group(0)))
    # The README and the scripts name test files by the dozen; none found means the patterns broke.
    assert seen >= 20, seen
    assert not missing, f"test files named but not there: {missing}"


# A source key of graph-api.md §0 ("| ORGGET |", "| AUPD / AGET |"), and one cited by a row.
SOURCE_ROW = re.compile(r"^\| ([A-Z][A-Z0-9]*(?: / [A-Z][A-Z0-9]*)*) \|", re.MULTILINE)
CITED_KEY = re.compile(r"\b[A-Z][A-Z0-9]+\b")


def test_every_source_key_an_endpoint_row_cites_is_in_graph_api_sources() -> None:
    from services import endpoints

    sources = (DOCS / "graph-api.md").read_text(encoding="utf-8").split("\n## 1.")[0]
    keys = {k for row in SOURCE_ROW.findall(sources) for k in row.split(" / ")}
    for row in endpoints.ENDPOINTS:
        cited = re.sub(r"\([^)]*\)", "", row.source.partition(";")[2])  # not the asides
        missing = set(CITED_KEY.findall(cited)) - keys
        assert not missing, f"{row.name} cites {sorted(missing)}, which graph-api.md §0 lacks"
