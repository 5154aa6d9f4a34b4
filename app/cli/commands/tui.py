"""``closeout`` with no command: the TUI (``--demo``: on an in-process sandbox tenant;
``--rehearse FILE``: on a replica of the tenant a snapshot holds)."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.command import Command
from app.cli.options import session_options
from services.exit_codes import ExitCode
from services.i18n import N_, _


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mouse", action="store_true", help=_("enable the mouse in the TUI"))
    parser.add_argument(
        "--rehearse",
        type=Path,
        metavar="FILE",
        help=_("open a replica of the tenant a closeout snapshot holds (REHEARSAL; in process)"),
    )
    parser.add_argument(
        "--notify",
        metavar="COMMAND_OR_URL",
        help=_(
            "when a wait ends, a handoff is detected, or a step fails (the terminal bell rings "
            "too): POST a short JSON body to this http(s) URL, or run this command (no shell) "
            "with it on stdin"
        ),
    )


def run(args: argparse.Namespace) -> ExitCode:
    options = session_options(args)
    target = None
    if getattr(args, "notify", None):
        from services.notify import parse_target

        target = parse_target(args.notify)  # refused before any screen opens
    if options.rehearse is not None:
        from services.snapshot import load_snapshot

        # A file that cannot be rehearsed is a usage error (exit 2) before any screen opens.
        load_snapshot(options.rehearse)
    if options.demo and not options.demo_fresh and options.state_root is not None:
        from services.demo_folder import DemoFolder, check_demo_options

        # So is a kept demo tenant this closeout cannot read, or --users/--seed asking for
        # another one (the header says; a damaged body is found as the session loads it).
        header = DemoFolder(options.state_root).header()
        if header is not None:
            check_demo_options(
                int(header["users"]),
                int(header["seed"]),
                options.demo_users,
                options.demo_seed,
                deleted=header.get("deleted") is True,
            )
    from app.main import run_tui  # Textual and the app: only when the TUI starts

    return run_tui(args, options, notify=target)


TUI = Command("tui", N_("the TUI"), run, configure)
