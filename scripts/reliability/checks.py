"""What a reliability trial checks: the sandbox's end state against the designed one, writes
Graph received twice, records the journal lost; and what a run said, read from its output."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.journal.writer import Journal
from services.sandbox import Sandbox
from services.sandbox.tenant import GLOBAL_ADMIN
from tests.support.cli_harness import LineTap

from .model import _OK

# -- what a trial checks ----------------------------------------------------------------------


def _graph_writes(sb: Sandbox) -> list[Any]:
    return [w for w in sb.recorder.writes() if w.path.startswith(("/v1.0/", "/beta/"))]


def written_twice(sb: Sandbox) -> dict[tuple[str, str], int]:
    """Writes received for a (method, path) after Graph had already carried out that write."""
    carried_out: set[tuple[str, str]] = set()
    again: Counter[tuple[str, str]] = Counter()
    for w in sorted(_graph_writes(sb), key=lambda r: r.real_time):
        key = (w.method, w.path)
        if key in carried_out:
            again[key] += 1
        if 200 <= w.status < 300:
            carried_out.add(key)
    return dict(again)


def lost_records(sb: Sandbox, state: Path) -> list[str]:
    """Objects Graph wrote that the journal does not record as done or gone, and intents the
    journal leaves without an outcome."""
    records = Journal(sb.tenant_id, root=state).records()
    recorded = {
        str(r.get("object"))
        for r in records
        if r.get("kind") == "outcome" and r.get("result") in _OK
    }
    written = {w.object_id for w in _graph_writes(sb) if 200 <= w.status < 300 and w.object_id}
    lost = [f"written, not recorded: {oid}" for oid in sorted(written - recorded)]
    open_intents: set[tuple[Any, Any]] = set()
    for r in records:
        key = (r.get("action"), r.get("object"))
        if r.get("kind") == "intent":
            open_intents.add(key)
        elif r.get("kind") == "outcome":
            open_intents.discard(key)
    lost += [f"intent without an outcome: {a} {o}" for a, o in sorted(open_intents, key=str)]
    return lost


@dataclass(frozen=True)
class Before:
    """What the tenant held before the close-out, to judge its end against."""

    users: frozenset[str]
    admin_mfa: str
    kept: frozenset[str] = frozenset()


def before(sb: Sandbox, kept: frozenset[str] = frozenset()) -> Before:
    t = sb.tenant
    return Before(
        frozenset(u.id for u in t.users.values()), t.users.get(sb.admin_id).mfa_state, kept
    )


def end_state_problems(sb: Sandbox, was: Before, *, tenant_deleted: bool = True) -> list[str]:
    """Every way the sandbox's end state differs from the designed one."""
    t = sb.tenant
    problems: list[str] = []
    rec = sb.recorder
    staying = {sb.admin_id, *was.kept}
    if tenant_deleted:
        deleted = rec.events("tenant-deleted")
        if len(deleted) != 1:
            problems.append(f"tenant deleted {len(deleted)} times")
        elif deleted[0].detail["users"] != [sb.admin_id]:
            problems.append(f"tenant deleted with users {deleted[0].detail['users']}")
    left = {u.id for u in t.users.values()} - staying
    if left:
        problems.append(f"{len(left)} users left")
    gone = [e.detail["id"] for e in rec.events("user-deleted")]
    twice = [uid for uid, n in Counter(gone).items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} users deleted twice")
    if set(gone) != set(was.users) - staying:
        problems.append(f"deleted {len(set(gone))} users, expected {len(was.users - staying)}")
    for kind in (
        "synced-delete-refused",
        "self-delete-refused",
        "last-global-admin-delete-refused",
    ):
        if rec.events(kind):
            problems.append(f"{kind}: {len(rec.events(kind))}")
    if t.users.get(sb.admin_id).mfa_state != was.admin_mfa:
        problems.append("the admin's MFA was changed")
    for uid in was.kept:
        if t.users.get(uid) is None or t.users.get(uid).mfa_state != "disabled":
            problems.append(f"kept account {uid}: MFA not off")
    mfa_on = [
        p.id
        for p in t.ca_policies.values()
        if ("mfa" in p.built_in_controls or p.authentication_strength) and p.state != "disabled"
    ]
    if mfa_on:
        problems.append(f"{len(mfa_on)} MFA policies still on")
    if tenant_deleted:
        if t.deleted_users:
            problems.append(f"{len(t.deleted_users)} users in the recycle bin")
        if t.applications:
            problems.append(f"{len(t.applications)} applications left")
        if any(s.status != "Deleted" for s in t.subscriptions.values()):
            problems.append("a subscription not deprovisioned")
        enabled = [
            sp.id
            for sp in t.service_principals.values()
            if sp.account_enabled and not sp.is_microsoft
        ]
        if enabled:
            problems.append(f"{len(enabled)} service principals still enabled")
    with contextlib.suppress(KeyError):
        if sb.admin_id not in t.roles[GLOBAL_ADMIN].members:
            problems.append("the admin lost Global Administrator")
    return problems


def asks_for_a_new_plan(tap: LineTap) -> bool:
    return any(
        o.get("event") == "waiting" and "make a new plan" in str(o.get("message"))
        for o in json_lines(tap)
    )


def said_last(tap: LineTap) -> str:
    """What a run said last that explains how it ended: its errors, stops, waits and failed
    items (an exit 3 says why in a ``waiting`` line: an outage, a handoff, a blocked step)."""
    lines = [
        o
        for o in json_lines(tap)
        if o.get("event") in ("error", "stopped", "waiting", "failed")
        or o.get("outcome") in ("failed", "unknown")
    ]
    return " | ".join(json.dumps(o, ensure_ascii=True)[:400] for o in lines[-4:])


def json_lines(tap: LineTap) -> list[dict[str, Any]]:
    out = []
    for line in tap.lines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out
