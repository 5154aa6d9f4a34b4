"""The five steps of Microsoft's "Close your account" procedure, one module each, UI-free.

``prepare`` (step 0, before you begin), ``users`` (1, with ``dirsync``: turning directory sync
off once), ``subscriptions`` (2 and 3: handoffs), ``mfa`` (4) and ``directory`` (5). Each
exports a :class:`~services.steps.step.Step` (how it is assessed from a fresh Graph read and,
where an API exists, run); :mod:`services.steps.registry` lists them in order, and
:mod:`services.engine` drives them through it.

This package itself stays light: the TUI's widgets reach the registry through
:func:`load_registry`, on first use, so that its first paint need not wait for the step code
and the Graph client it loads.
"""

from __future__ import annotations

from types import ModuleType


def load_registry() -> ModuleType:
    """:mod:`services.steps.registry`, imported on first use."""
    from . import registry

    return registry
