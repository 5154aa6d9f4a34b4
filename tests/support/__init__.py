"""Helpers shared across the test suite's folders, and where the repository is."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The repository's root (where pyproject.toml is)."""

FIXTURES = Path(__file__).resolve().parent / "fixtures"
"""Files the tests read: real samples of what closeout is given."""
