"""UI-free services of closeout: Graph client, sign-in, the closure steps and the sandbox tenant.

Nothing in this package imports textual, rich, ``app`` or ``widgets`` (an import-linter
contract in pyproject.toml enforces it), so the headless CLI and the TUI drive the same code.
"""

from __future__ import annotations

import logging

__version__ = "0.1.0"

# A library's loggers stay silent unless the program configures logging (the CLI writes a
# log file); without this, Python's last-resort handler would print warnings on the terminal.
logging.getLogger("closeout").addHandler(logging.NullHandler())
