"""``closeout plan``: what closeout would do, read-only; the plan is saved, so that a run applies
one the admin has seen printed in full."""

from __future__ import annotations

import argparse
import sys

from app.cli.command import Command
from app.cli.context import Connection, read_tenant
from services.exit_codes import ExitCode
from services.i18n import N_, _


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help=_("print the plan as JSON"))


def run(args: argparse.Namespace) -> ExitCode:
    def body(connection: Connection) -> ExitCode:
        from services.headless.text import print_plan

        engine = connection.engine
        engine.make_plan(save=True)
        print_plan(engine, sys.stdout, json_mode=args.json)
        return ExitCode.DONE

    return read_tenant(args, body, read_only=True)


PLAN = Command("plan", N_("show what closeout would do (read-only)"), run, configure)
