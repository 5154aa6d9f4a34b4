"""The references in the code resolve: every "design.md §N" / "graph-api.md §N" a comment or
docstring cites names a section of docs/, and graph-api.md §13 lists every sandbox behaviour."""

from __future__ import annotations

import re
from pathlib import Path

from services.sandbox.config import BEHAVIOURS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SOURCE_DIRS = ("app", "widgets", "services", "scripts", "tests")

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
