"""``closeout status``: where each step stands, and an exit code that says so (0 done, 3
waiting, 4 failed, 5 a role or permission missing)."""

from __future__ import annotations

import argparse
import sys

from app.cli.command import Command
from app.cli.context import Connection, read_tenant
from services.exit_codes import ExitCode, exit_code_for_steps
from services.i18n import N_


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> ExitCode:
    def body(connection: Connection) -> ExitCode:
        from services.headless.text import print_status
        from services.plan.model import PlanError

        engine = connection.engine
        if engine.load_plan() is None:
            try:
                engine.make_plan(save=False)
            except PlanError:
                # Without the Global Administrator role no plan is safe; step 0 names the
                # missing role below, which is the cause worth showing.
                if not engine.missing():
                    raise
        states = engine.assess()
        subs = engine.inventory.subscriptions if engine.inventory and not engine.gone else ()
        print_status(states, sys.stdout, json_mode=args.json, subscriptions=subs)
        if not engine.gone and engine.missing():
            return ExitCode.AUTH  # step 0 lists what is missing; a run could not proceed
        return exit_code_for_steps(states, gone=engine.gone)

    return read_tenant(args, body)


STATUS = Command("status", N_("where each step stands"), run, configure)
