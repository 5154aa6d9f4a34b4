"""UI-free services of closeout: Graph client, sign-in, the closure steps and the sandbox tenant.

Nothing in this package imports textual, rich, ``app`` or ``widgets`` (an import-linter
contract in pyproject.toml enforces it), so the headless CLI and the TUI drive the same code.
"""

from __future__ import annotations

__version__ = "0.1.0"
