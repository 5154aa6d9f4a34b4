"""``closeout snapshot``: a read-only copy of everything the close-out touches, in one file, to
rehearse the close-out on (``closeout rehearse FILE``). Signs in as ``--read-only`` does: read
scopes only, and a client that cannot send a write."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli.command import Command
from app.cli.context import Connection, read_tenant
from app.cli.process import say
from services.exit_codes import ExitCode
from services.i18n import N_, _

if TYPE_CHECKING:
    from services.snapshot import Snapshot
    from services.snapshot.capture import CaptureSummary


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help=_("file to write (default: closeout-snapshot-<tenant id>-<time>.json.gz here)"),
    )
    parser.add_argument(
        "--redact",
        action="store_true",
        help=_("replace names and UPNs with pseudonyms (ids, states and domain shapes stay)"),
    )
    parser.add_argument(
        "--mfa",
        action="store_true",
        help=_("also read every user's per-user MFA state (one read per user; says how long)"),
    )


def run(args: argparse.Namespace) -> ExitCode:
    from services.control import RunControl
    from services.snapshot import SnapshotError, save_snapshot
    from services.snapshot.capture import ReadProgress, take_snapshot

    if args.out is not None and (args.out.exists() or args.out.is_symlink()):
        # Before signing in: a file that would not be written is no reason to read a tenant.
        raise SnapshotError(
            _("{path} already exists; closeout does not overwrite it.").format(path=args.out),
            _("Choose another file with --out, or move the old one away."),
        )
    control = RunControl()
    progress = ReadProgress(say)

    def body(connection: Connection) -> ExitCode:
        engine = connection.engine
        session = connection.session
        snapshot, summary = take_snapshot(
            engine.client,
            engine.caller,
            client_id=session.options.client_id,
            mfa=args.mfa,
            redact=args.redact,
            control=control,
            say=say,
            progress=progress,
            time_scale=session.time_scale,
        )
        out = args.out or Path(
            f"closeout-snapshot-{engine.caller.tenant.id}-"
            f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json.gz"
        )
        save_snapshot(snapshot, out)
        _print_summary(snapshot, summary, out)
        return ExitCode.DONE

    return read_tenant(args, body, read_only=True, control=control, on_call=progress)


def _print_summary(snapshot: Snapshot, summary: CaptureSummary, out: Path) -> None:
    from services.durations import human_duration
    from services.textsafe import neutralise

    c = summary.counts
    org = snapshot.body.get("organization") or {}
    lines = [
        _("Snapshot of {name} ({tenant}) written to {path} (0600).").format(
            name=neutralise(str(org.get("displayName") or "")), tenant=snapshot.tenant_id, path=out
        ),
        _("  users: {n:,} ({guests:,} guests, {synced:,} synced, {disabled:,} disabled)").format(
            n=c["users"], guests=c["guests"], synced=c["synced"], disabled=c["disabled"]
        ),
        _("  Global Administrators: {n}; directory roles: {roles}").format(
            n=c["globalAdmins"], roles=c["roles"]
        ),
        _("  subscriptions: {subs}; licence SKUs: {skus}").format(
            subs=", ".join(f"{n} {s}" for s, n in sorted(summary.subscriptions.items())) or "0",
            skus=c["skus"],
        ),
        _("  applications: {apps}; service principals: {sps} ({other} not Microsoft's)").format(
            apps=c["applications"], sps=c["servicePrincipals"], other=c["otherServicePrincipals"]
        ),
        _(
            "  recycle bin: {users:,} users, {apps:,} applications, {sps:,} service principals"
        ).format(
            users=c["deletedUsers"],
            apps=c["deletedApplications"],
            sps=c["deletedServicePrincipals"],
        ),
        _("  Conditional Access policies: {n}").format(n=c["conditionalAccessPolicies"]),
    ]
    if summary.mfa:
        lines.append(
            _("  per-user MFA: {states}").format(
                states=", ".join(f"{n:,} {s}" for s, n in sorted(summary.mfa.items()))
            )
        )
    for part, reason in summary.errors.items():
        lines.append(_("  not read: {part}: {reason}").format(part=part, reason=reason))
    lines.append(
        _("  {n:,} requests (no writes) in {t}.").format(
            n=summary.requests, t=human_duration(summary.seconds)
        )
    )
    if snapshot.redacted:
        lines.append(_("  Names and UPNs are pseudonymised; the key was not kept."))
    lines.append(_("Rehearse the close-out on it: closeout rehearse {path}").format(path=out))
    sys.stdout.write("\n".join(lines) + "\n")


SNAPSHOT = Command(
    "snapshot",
    N_("copy the tenant read-only into a file, to rehearse the close-out on"),
    run,
    configure,
)
