"""Issue #3's end-to-end proof: ``closeout run --headless`` closes a 500-user sandbox tenant.

The tenant has everything a real one has when it is closed (synced users, guests, admins in
roles, trials, a partner-bought subscription, Conditional Access, applications and service
principals, some refusing deletion, soft-deleted users). The test plays the human's part in
the portals through the sandbox's HTTP control endpoints, only after closeout has handed each
part over, and then asks the sandbox what really happened.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from services.sandbox.tenant import GLOBAL_ADMIN
from tests.support.cli_harness import (
    FAST,
    LineTap,
    PortalHuman,
    export_offline,
    full_run_args,
    graph_writes,
    journal_records,
    pack_path,
    read_outcomes_csv,
    run_cli,
    target_args,
)

pytestmark = pytest.mark.slow


def test_headless_run_closes_a_500_user_tenant(make_sandbox, tmp_path: Path, monkeypatch) -> None:
    # Deprovisioning takes a little longer than Microsoft's 72 hours, so that step 4 mostly
    # runs while subscriptions are still deprovisioning (the admin below makes the order sure).
    sb = make_sandbox(users=500, seed=11, time_scale=FAST, deprovision_hours=160)
    t = sb.tenant
    users = list(t.users.values())
    # The default seed must really have everything the issue lists; otherwise this proves less.
    assert len(users) == 500
    assert sum(u.synced for u in users) > 50
    assert sum(u.user_type == "Guest" for u in users) > 20
    assert len(t.roles[GLOBAL_ADMIN].members) >= 2  # the admin and another Global Administrator
    assert sum(1 for r in t.roles.values() for m in r.members if m != sb.admin_id) >= 3
    subs = list(t.subscriptions.values())
    assert any(s.is_trial for s in subs) and any(s.owner_tenant_id for s in subs)
    assert {s.status for s in subs} >= {"Enabled", "Warning", "Suspended", "Deleted"}
    assert any(p.built_in_controls == ["mfa"] for p in t.ca_policies.values())
    assert len(t.applications) > 0 and len(t.deleted_users) > 0
    assert any(
        sp.delete_behaviour == "refuse" and not sp.is_microsoft
        for sp in t.service_principals.values()
    )
    assert any(sp.delete_behaviour == "dependency" for sp in t.service_principals.values())
    admin_mfa = t.users.get(sb.admin_id).mfa_state

    tap = LineTap()
    argv = full_run_args(sb, tmp_path / "state")
    # The admin deletes the disabled subscriptions (step 3's part) only once step 4 runs: on
    # the fast clock a loaded machine could let the deprovisioning end before step 4 started
    # (seen under load). A run whose step 4 waited for step 3 would then never end.
    with PortalHuman(sb, tap, delete_disabled_once_running=4) as human:
        token = sb.issue_token()
        result = run_cli(argv, monkeypatch=monkeypatch, token=token, tap=tap)
    assert result.code == 0, result.text[-3000:]
    assert not human.errors, human.errors

    # The JSON-lines contract: every line parses on its own and says when, which step, what.
    lines = result.json_lines()
    assert len(lines) > 20
    for obj in lines:
        assert {"time", "step", "event"} <= obj.keys(), obj
        datetime.fromisoformat(obj["time"])
        assert obj["step"] is None or obj["step"] in range(6)
    assert lines[-1] == {**lines[-1], "event": "exit", "code": 0}

    rec = sb.recorder
    # Only the admin remained until the tenant went.
    (deleted,) = rec.events("tenant-deleted")
    assert deleted.detail["users"] == [sb.admin_id]
    # Directory sync was off before any synced user was deleted, and no synced delete was tried.
    user_deleted = rec.events("user-deleted")
    assert len(user_deleted) == 499
    synced_deletes = [e for e in user_deleted if e.detail["was_synced"]]
    assert synced_deletes, "the tenant had synced users"
    assert all(e.detail["sync_disabled_at"] is not None for e in synced_deletes)
    # Each synced user went only once converted (cloud-only ones need not wait: issue 7).
    (sync_off,) = rec.events("sync-disabled")
    assert all(e.sim_time >= sync_off.sim_time for e in synced_deletes)
    assert rec.events("synced-delete-refused") == []
    assert rec.events("self-delete-refused") == []
    assert rec.events("last-global-admin-delete-refused") == []
    # No object was written twice.
    per_target = rec.writes_per_target()
    assert per_target and max(per_target.values()) == 1, per_target.most_common(3)
    assert (
        rec.writes_per_target(successful_only=False)[("DELETE", f"/v1.0/users/{sb.admin_id}")] == 0
    )
    # The admin's MFA was never touched.
    assert not [e for e in rec.events("mfa-changed") if e.detail.get("id") == sb.admin_id]
    assert t.users.get(sb.admin_id).mfa_state == admin_mfa
    assert not [w for w in graph_writes(sb) if sb.admin_id in w.path and w.method != "GET"]
    # Everything the portal checks was cleared by closeout's API part.
    assert len(t.deleted_users) == 0 and len(t.applications) == 0
    assert all(s.status == "Deleted" for s in t.subscriptions.values())
    assert all(not sp.account_enabled or sp.is_microsoft for sp in t.service_principals.values())
    mfa_policies = [
        p
        for p in t.ca_policies.values()
        if "mfa" in p.built_in_controls or p.authentication_strength
    ]
    assert mfa_policies and all(p.state == "disabled" for p in mfa_policies)

    # The human clicked "Delete tenant" only after closeout said step 5 was ready, and the
    # order of the steps is the designed one: step 4 did not wait for the subscriptions.
    assert human.delete_requested_after is not None

    def first(step: int, *statuses: str) -> int:
        return min(
            i
            for i, obj in enumerate(lines)
            if obj["event"] == "step" and obj["step"] == step and obj["status"] in statuses
        )

    assert first(1, "done") < first(4, "running") < first(3, "done") < first(5, "running")
    assert first(3, "waiting-time", "waiting-person") < first(4, "running")
    assert first(5, "waiting-person") < len(lines) - 1
    kinds = Counter(obj["event"] for obj in lines)
    assert kinds["handoff"] >= 3 and kinds["confirmed"] >= 3
    items = [obj for obj in lines if obj["event"] == "item"]
    assert Counter(o["action"] for o in items)["delete-user"] == 499

    # The run's evidence pack holds every object it acted on, once (its latest outcome; the
    # journal keeps every attempt), and the backup taken before.
    state = tmp_path / "state"
    pack = pack_path(result)
    outcomes = [r for r in journal_records(sb, state) if r["kind"] == "outcome"]
    rows = read_outcomes_csv(pack)
    assert len(rows) == len({(o["action"], o["object"]) for o in outcomes}) > 1000
    assert {(r["action"], r["object_id"]) for r in rows} == {
        (o["action"], o["object"]) for o in outcomes
    }
    assert all(int(r["attempts"]) >= 1 for r in rows)
    assert {r["object_id"] for r in rows if r["action"] == "delete-user"} == {
        e.detail["id"] for e in user_deleted
    }
    before = json.loads((pack / "inventory-before.json").read_text())
    assert len(before["users"]) == 500
    assert {u["id"] for u in before["users"]} == {u.id for u in users}

    # The token is nowhere: not in the output, the journal, the evidence pack or the log.
    signature = token.rsplit(".", 1)[-1]
    assert signature not in result.text
    for path in [*state.rglob("*")]:
        if path.is_file():
            assert signature not in path.read_text(errors="replace"), path

    # Afterwards, every token is refused; status says the deletion is confirmed (exit 0).
    after = run_cli(
        ["status", *target_args(sb, tmp_path / "state")],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert after.code == 0, after.text
    assert "no longer exists" in after.err and sb.tenant_id in after.err
    again = run_cli(argv, monkeypatch=monkeypatch, token=sb.issue_token())
    assert again.code == 0, again.text
    assert [o["event"] for o in again.json_lines()] == ["note", "exit"]

    # And the evidence can still be exported afterwards, without Graph (no token works now).
    out = tmp_path / "offline-pack"
    offline = export_offline(sb.tenant_id, state, monkeypatch=monkeypatch, out=out)
    assert offline.code == 0, offline.text
    offline_rows = read_outcomes_csv(out)
    assert {(r["action"], r["object_id"]) for r in offline_rows} == {
        (o["action"], o["object"]) for o in outcomes
    }
    assert json.loads((out / "summary.json").read_text())["summary"]["tenantDeleted"] is True
