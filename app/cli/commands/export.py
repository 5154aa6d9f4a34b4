"""``closeout export``: the evidence pack of every run, from the tenant and the journal, or with
``--offline`` from the journal and saved files alone (after the tenant is deleted)."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.command import Command, UsageError
from app.cli.context import Connection, read_tenant
from services.exit_codes import ExitCode
from services.i18n import N_, _


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help=_("folder to write (default: in the state dir)"))
    parser.add_argument(
        "--offline",
        action="store_true",
        help=_(
            "from the journal and saved files only, no sign-in (e.g. after the tenant is deleted)"
        ),
    )


def run(args: argparse.Namespace) -> ExitCode:
    if args.offline:
        from services.evidence.offline import export_offline

        if not args.tenant:
            raise UsageError(_("export --offline needs --tenant with the tenant id."))
        print(export_offline(args.tenant, root=args.state_dir, out=args.out))
        return ExitCode.DONE

    def body(connection: Connection) -> ExitCode:
        engine = connection.engine
        if engine.load_plan() is None:
            engine.make_plan()
        engine.assess()
        print(engine.write_evidence(args.out, all_runs=True))
        return ExitCode.DONE

    return read_tenant(args, body)


EXPORT = Command("export", N_("write the evidence pack"), run, configure)
