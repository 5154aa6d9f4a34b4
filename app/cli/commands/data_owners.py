"""``closeout data-owners``: before step 1, who holds mailbox or OneDrive data and how much, so
that the admin can hand it over before the users are deleted. Read-only; asks for
Reports.Read.All to read the sizes (:mod:`services.data_owners`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli.command import Command
from app.cli.context import Connection, read_tenant
from services.exit_codes import ExitCode
from services.i18n import N_, _, ngettext

if TYPE_CHECKING:
    from services.data_owners import DataOwners


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help=_("print the list as JSON"))
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help=_("also write the list as CSV to FILE (one row per user, sizes in bytes)"),
    )
    # Asks for Reports.Read.All at sign-in, which no other command does.
    parser.set_defaults(usage_reports=True)


def run(args: argparse.Namespace) -> ExitCode:
    def body(connection: Connection) -> ExitCode:
        from services.data_owners import data_owners, write_csv

        engine = connection.engine
        inventory = engine.refresh()
        if inventory is None:
            print(_("The tenant no longer exists; nobody holds data in it."))
            return ExitCode.DONE
        owners = data_owners(inventory, engine.client)
        if args.out is not None:
            write_csv(owners, args.out)
        _print(owners, json_mode=args.json)
        if args.out is not None and not args.json:
            print(_("Written to {path}.").format(path=args.out))
        return ExitCode.DONE

    return read_tenant(args, body, read_only=True)


def _print(owners: DataOwners, *, json_mode: bool) -> None:
    from dataclasses import asdict

    from services.data_owners import some_names
    from services.textsafe import neutralise

    if json_mode:
        doc = {
            "sizes": owners.sizes,
            "note": owners.note,
            "owners": [asdict(o) for o in owners.owners],
        }
        sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
        return
    n = len(owners.owners)
    print(
        ngettext(
            "{n:,} user holds mailbox or OneDrive data: {names}",
            "{n:,} users hold mailbox or OneDrive data: {names}",
            n,
        ).format(n=n, names=some_names([neutralise(o.upn) for o in owners.owners]))
        if n
        else _("Nobody holds mailbox or OneDrive data.")
    )
    for o in owners.owners:
        u = o.usage
        sizes = (
            _("mailbox {mailbox}, OneDrive {onedrive}").format(
                mailbox=_bytes(u.mailbox_bytes), onedrive=_bytes(u.onedrive_bytes)
            )
            if u is not None
            else _("sizes not known")
        )
        licence = _("licensed") if o.licensed else _("no licence, data left behind")
        print(f"  {neutralise(o.upn)}: {sizes} ({licence})")
    if owners.note:
        print(owners.note)


def _bytes(value: int | None) -> str:
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} TB"


DATA_OWNERS = Command(
    "data-owners",
    N_("list who holds mailbox or OneDrive data, with sizes where Graph reports them (read-only)"),
    run,
    configure,
)
