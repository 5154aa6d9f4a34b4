"""closeout imports only Textual's public modules: a private one (``textual._x``,
``textual.widgets._x``) may change in any release, even under the exact pin."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _private_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        found += [
            f"{path.relative_to(ROOT)}: {name}"
            for name in names
            if name.split(".")[0] == "textual" and any(p.startswith("_") for p in name.split("."))
        ]
    return found


def test_no_module_imports_a_private_textual_module() -> None:
    files = [
        p
        for d in ("app", "widgets", "services", "scripts", "tests")
        for p in (ROOT / d).rglob("*.py")
    ]
    assert files
    assert [hit for path in files for hit in _private_imports(path)] == []
