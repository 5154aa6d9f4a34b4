"""Placeholder: the sandbox's identity endpoints (being written)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import Sandbox


def register(sandbox: Sandbox) -> None:
    """Add the OAuth/device-code routes to ``sandbox.identity``."""
