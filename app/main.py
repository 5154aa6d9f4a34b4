"""Starts the TUI: language, terminal signals, the app, and its exit code."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
from typing import TYPE_CHECKING

from services.exit_codes import ExitCode

from .closeout_app import CloseoutApp
from .terminal import TerminalWatch

if TYPE_CHECKING:
    from services.notify import NotifyTarget
    from services.session_options import SessionOptions


def run_tui(
    args: argparse.Namespace, options: SessionOptions, *, notify: NotifyTarget | None = None
) -> ExitCode:
    app = CloseoutApp(options)
    app.notify_target = notify
    app.relaunch = shlex.join(["closeout", *sys.argv[1:]])
    previous = None
    if hasattr(signal, "SIGTERM"):
        # Textual handles no SIGTERM: without this, a kill would end the process mid-batch.
        # Here it stops the step between batches, records it, and exits 3.
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: app.hang_up("SIGTERM"))
    try:
        # SIGHUP, or the terminal closing without one (a pty whose other end is gone), stops
        # the same way: see app.terminal.
        with TerminalWatch(app.terminal_lost):
            code = app.run(mouse=bool(getattr(args, "mouse", False)))
    finally:
        if previous is not None:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGTERM, previous)
        if app.session is not None:
            app.session.close()
    if code is None and app.return_code:
        # The app crashed (Textual printed why): not "waiting", whatever the checklist said.
        return ExitCode.FAILED
    return app.closeout_code if code is None else ExitCode(code)
