"""Registers every Graph route the sandbox serves (users and directory, then tenant-wide)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import routes_tenant, routes_users

if TYPE_CHECKING:
    from .core import Sandbox


def register(sandbox: Sandbox) -> None:
    routes_users.register(sandbox)
    routes_tenant.register(sandbox)
