"""Starts the TUI: language, terminal signals, the app, and its exit code."""

from __future__ import annotations

import argparse
import contextlib
import signal
from typing import TYPE_CHECKING

from services.exit_codes import ExitCode

from .closeout_app import CloseoutApp

if TYPE_CHECKING:
    from services.session_options import SessionOptions


def run_tui(args: argparse.Namespace, options: SessionOptions) -> ExitCode:
    app = CloseoutApp(options)
    previous = None
    if hasattr(signal, "SIGHUP"):
        # Textual handles no SIGHUP; without this a dropped SSH session would kill the process
        # mid-batch. Here it stops the step between batches, records it, and exits.
        previous = signal.signal(signal.SIGHUP, lambda signum, frame: app.hang_up())
    try:
        code = app.run(mouse=bool(getattr(args, "mouse", False)))
    finally:
        if previous is not None:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGHUP, previous)
        if app.session is not None:
            app.session.close()
    if code is None and app.return_code:
        # The app crashed (Textual printed why): not "waiting", whatever the checklist said.
        return ExitCode.FAILED
    return app.closeout_code if code is None else ExitCode(code)
