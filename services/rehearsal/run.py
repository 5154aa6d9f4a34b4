"""``closeout rehearse FILE``: the whole close-out, headless, against the snapshot's replica.

The replica runs in this process at a compressed clock (72 hours in seconds); closeout signs in
to it and closes it out with the same engine and the same headless driver as ``closeout run
--headless --yes``, confirming what a person confirms (the typed initial domain, the checks no
API can make), while :class:`~.admin.RehearsalAdmin` does the portals' part when it is handed
over. The rehearsal's journal and evidence pack go to a folder of their own
(``<state dir>/rehearsals/<tenant id>-<time>/``); the report is written into the evidence pack
as ``rehearsal.md`` and ``rehearsal.json``.

How long the real close-out takes is not read off the compressed clock: it is predicted from
the counts the rehearsal measured and Graph's quotas (:mod:`.forecast`).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from services.auth.scopes import DEFAULT_CLIENT_ID
from services.control import RunControl
from services.errors import CloseoutError
from services.exit_codes import ExitCode
from services.headless.drive import DriveOptions, drive
from services.i18n import _
from services.models import StepId
from services.paths import write_private
from services.session import Session, SessionOptions, sign_in_headless
from services.snapshot import load_snapshot
from services.steps.manual_checks import MANUAL_ITEMS

from .admin import RehearsalAdmin
from .build import build_report
from .forecast import DEFAULT_LATENCY, Pace
from .observe import DriverLines, Observer
from .report import RehearsalReport

__all__ = ["REHEARSAL_TIME_SCALE", "Rehearsal", "RehearsalOptions", "end_state", "rehearse"]

REHEARSAL_TIME_SCALE = 36_000.0
"""Simulated seconds per real second: a 72-hour wait passes in about 7 seconds."""
MARKDOWN_NAME = "rehearsal.md"
JSON_NAME = "rehearsal.json"


@dataclass(frozen=True)
class RehearsalOptions:
    snapshot: Path
    keep: tuple[str, ...] = ()
    disable_security_defaults: bool = False
    disable_ca_mfa: bool = False
    delete_own_app: bool = False
    behaviours: str = ""
    time_scale: float = REHEARSAL_TIME_SCALE
    latency: float = DEFAULT_LATENCY
    """Seconds per request at Graph, for the prediction (not the replica's)."""
    state_root: Path | None = None
    max_seconds: float = 3600.0
    """Real seconds after which a rehearsal that has not ended is stopped and reported."""
    poll_interval: float | None = None
    replica_config: Any = None
    """The replica's sandbox config (tests: a smaller quota, time scale 1)."""


@dataclass
class Rehearsal:
    report: RehearsalReport
    code: ExitCode
    sandbox: Any
    """The replica (stopped): its recorder and throttle say what it received."""


def rehearse(
    options: RehearsalOptions,
    *,
    progress: TextIO | None = None,
    say: Callable[[str], None] | None = None,
    control: RunControl | None = None,
) -> Rehearsal:
    """Close out the snapshot's replica and report. ``progress`` gets the headless run's lines
    (default stderr); ``say`` what the admin is told on the way; ``control`` stops it."""
    say = say or (lambda text: None)
    control = control or RunControl()
    # Signed in with the app the snapshot was taken with, as the real run will be: if that app
    # is registered in the tenant, step 5 treats it as closeout's own, as it will for real.
    client_id = str(load_snapshot(options.snapshot).header.get("clientId") or "")
    session = Session(
        SessionOptions(
            rehearse=options.snapshot,
            client_id=client_id or DEFAULT_CLIENT_ID,
            delete_own_app=options.delete_own_app,
            behaviours=options.behaviours,
            replica_config=options.replica_config,
            keep=options.keep,
            disable_security_defaults=options.disable_security_defaults,
            disable_ca_mfa=options.disable_ca_mfa,
            demo_time_scale=options.time_scale,
            demo_auto_approve=0.0,
            poll_interval=options.poll_interval,
            state_root=options.state_root,
            use_token_cache=False,
        )
    )
    try:
        return _rehearse(session, options, control, progress or sys.stderr, say)
    finally:
        session.close()


def _rehearse(
    session: Session,
    options: RehearsalOptions,
    control: RunControl,
    progress: TextIO,
    say: Callable[[str], None],
) -> Rehearsal:
    sandbox = session.sandbox
    started = datetime.now(UTC)
    say(
        _(
            "Rehearsing on a replica of {tenant} (in this process; nothing contacts Microsoft)."
        ).format(tenant=session.snapshot.tenant_id)
    )
    reporter = DriverLines(progress, json_mode=False)
    observer = Observer(forward=reporter)
    admin = RehearsalAdmin(sandbox)
    observer.listeners.append(admin.on_event)
    sign_in_headless(session, control.stop_event, say)
    engine = session.connect(sink=observer.sink, on_call=observer.on_call, command="rehearse")
    watchdog = threading.Timer(options.max_seconds, control.stop)
    watchdog.daemon = True
    admin.start()
    watchdog.start()
    try:
        with observer.attributing(StepId.PREPARE):
            inventory = engine.refresh()
            if inventory is None:
                raise CloseoutError(_("The replica's tenant is gone before the rehearsal began."))
            plan = engine.ensure_plan()
        engine.begin(
            "rehearse",
            {
                "snapshot": str(options.snapshot),
                "rehearsal": True,
                "keep": list(options.keep),
                "delete_own_app": options.delete_own_app,
            },
        )
        outcome = drive(
            engine,
            DriveOptions(
                yes=True,
                confirm_domain=engine.caller.tenant.initial_domain,
                wait=True,
                manual=tuple(MANUAL_ITEMS),
            ),
            reporter,
            control,
        )
        pack = engine.finish(outcome.code)
    finally:
        watchdog.cancel()
        admin.stop()
    pace = Pace(
        write_quota=engine.options.write_quota,
        write_window=sandbox.config.write_quota[1],
        concurrency=engine.options.concurrency,
        latency=options.latency,
    )
    summary = sandbox.recorder.summary()
    report = build_report(
        snapshot=session.snapshot,
        plan=plan,
        inventory=inventory,
        observer=observer,
        admin=admin,
        code=outcome.code,
        tenant_deleted=engine.gone,
        driver_lines=reporter.kept,
        pace=pace,
        totals={
            "requests": int(summary["requests"]),
            "writes": int(summary["writes"]),
            "throttled": int(summary["throttled"]),
        },
        end_state=end_state(sandbox),
        start=started,
    )
    folder = pack if pack is not None else session.state_root
    if folder is not None:
        report.evidence = str(folder)
        write_private(Path(folder) / MARKDOWN_NAME, report.to_markdown())
        write_private(
            Path(folder) / JSON_NAME,
            json.dumps(report.to_json(), indent=2, ensure_ascii=False, default=str),
        )
    return Rehearsal(report, outcome.code, sandbox)


def end_state(sandbox: Any) -> dict[str, Any]:
    """What a close-out leaves of a sandbox tenant, comparable between the original and its
    replica: what remains, by id, and the state of what closeout or the portals changed."""
    with sandbox.lock:
        t = sandbox.tenant
        return {
            "tenantDeleted": t.deleted,
            "users": sorted(u.id for u in t.users.values()),
            "deletedUsers": sorted(u.id for u in t.deleted_users.values()),
            "applications": sorted(a.id for a in t.applications.values()),
            "deletedApplications": sorted(a.id for a in t.deleted_applications.values()),
            # Which service principals refuse deletion no snapshot can show; what counts for the
            # portal's check is that none of the tenant's own remains enabled.
            "enabledServicePrincipals": sorted(
                sp.id
                for sp in t.service_principals.values()
                if sp.account_enabled and not sp.is_microsoft
            ),
            "subscriptions": {s.id: s.status for s in t.subscriptions.values()},
            "subscriptionsDeleted": sorted(
                s.id for s in t.subscriptions.values() if s.marked_for_deletion
            ),
            "conditionalAccess": {p.id: p.state for p in t.ca_policies.values()},
            "securityDefaults": t.security_defaults_enabled,
            "directorySync": t.org.sync_enabled,
        }
