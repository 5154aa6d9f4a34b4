"""Where the catalogues are: the source folders read, the locale folder, the domain and the
languages, and the path of each template, ``.po`` and ``.mo``."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SOURCE_DIRS = ("services", "app", "widgets")
LOCALE_DIR = Path("services") / "locale"
DOMAIN = "closeout"
LANGUAGES = ("sv",)
PLURAL_FORMS = {"sv": "nplurals=2; plural=(n != 1);"}


def po_path(root: Path, language: str) -> Path:
    return root / LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(root: Path, language: str) -> Path:
    return po_path(root, language).with_suffix(".mo")


def pot_path(root: Path) -> Path:
    return root / LOCALE_DIR / f"{DOMAIN}.pot"
