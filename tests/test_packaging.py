"""What a regular (non-editable) install of closeout carries: every package and data file.

An editable install finds any module under the source tree, so the suite never noticed when
pyproject's hand-written package list went stale (a wheel lacked 64 of 226 files: the journal,
the engine, the Graph client...). These checks hold the packaging rules to the tree.
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOP = ("app", "widgets", "services")


def _config() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]


def _source_dirs() -> list[Path]:
    return [
        d
        for top in TOP
        for d in [ROOT / top, *(ROOT / top).rglob("*")]
        if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))
    ]


def test_packages_are_found_not_listed() -> None:
    config = _config()
    assert not isinstance(config["packages"], list), "a hand-written list goes stale: find them"
    include = config["packages"]["find"]["include"]
    for top in TOP:
        assert any(fnmatch.fnmatch(f"{top}.sub", pattern) for pattern in include), top


def test_every_folder_of_modules_is_a_package() -> None:
    # packages.find only finds folders with an __init__.py: one without would ship empty.
    missing = [str(d.relative_to(ROOT)) for d in _source_dirs() if not (d / "__init__.py").exists()]
    assert missing == []


def test_every_data_file_is_declared_package_data() -> None:
    declared = _config()["package-data"]
    undeclared = []
    for top in TOP:
        for path in (ROOT / top).rglob("*"):
            if not path.is_file() or path.suffix in {".py", ".pyc"} or "__pycache__" in path.parts:
                continue
            package = next(
                (
                    p
                    for p in sorted(declared, key=len, reverse=True)
                    if path.is_relative_to(ROOT / p)
                ),
                None,
            )
            relative = path.relative_to(ROOT / package).as_posix() if package else ""
            if package is None or not any(
                fnmatch.fnmatch(relative, pattern) for pattern in declared[package]
            ):
                undeclared.append(str(path.relative_to(ROOT)))
    assert undeclared == []
