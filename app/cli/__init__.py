"""The ``closeout`` command line.

``closeout`` starts the TUI (``--demo``: on an in-process sandbox tenant); ``plan``, ``status``,
``export`` and ``run --headless`` drive the same engine without it; ``sandbox serve`` runs the
sandbox tenant alone. Errors a user can cause print a message and a hint, never a traceback,
and end with a documented exit code (:mod:`services.exit_codes`).

Where things are: :mod:`.main` (the entry point: language, parsing, dispatch, errors),
:mod:`.parser` (the parser, built from the command registry), :mod:`.options` (the options every
command shares), :mod:`.command` (what a command is), :mod:`.commands` (one module per command:
its options and its handler, registered in one tuple), :mod:`.context` (connect, run, report:
the frame every headless command runs in), :mod:`.process` (signals, the log file, stderr).

Importing this package and building the parser loads no engine, HTTP or sign-in library and
no Textual: a command's handler imports what it needs when it runs (``closeout --help`` is
instant).
"""

from __future__ import annotations

from .main import main
from .parser import build_parser

__all__ = ["build_parser", "main"]
