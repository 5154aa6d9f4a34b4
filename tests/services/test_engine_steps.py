"""The engine itself (the API the TUI drives), against a sandbox tenant over real HTTP.

Step 1 on a synced tenant turns sync off once, deletes the cloud-only users meanwhile and the
synced ones once the wait (the 72-hour horizon) is over; the last-line guard refuses a forged
plan before anything is sent; step 5 needs the typed initial domain and the ticked manual
checks; events reach the sink; state is only ever "done" after a fresh read says so.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from services.batch.items import BatchItem
from services.engine import ConfirmationMismatch, Engine
from services.errors import CloseoutError
from services.models import (
    HandoffUpdated,
    InventoryRefreshed,
    ItemFinished,
    ProgressUpdated,
    StepChanged,
    StepId,
    StepStatus,
)
from services.plan.model import KeptAccount, PlannedAction
from services.sandbox import Sandbox
from services.session import Session
from services.steps import mfa
from services.steps.directory import MANUAL_ITEMS
from tests.support.sessions import sandbox_options


@dataclasses.dataclass
class Rig:
    sb: Sandbox
    session: Session
    engine: Engine
    events: list


@pytest.fixture
def rig_for(tmp_path: Path) -> Iterator:
    sessions: list[Session] = []

    def make(sb: Sandbox, **options) -> Rig:
        events: list = []
        session = Session(sandbox_options(sb, tmp_path / "state", follow_clock=True, **options))
        sessions.append(session)
        engine = session.connect(sink=events.append)
        return Rig(sb, session, engine, events)

    yield make
    for s in sessions:
        s.close()


def advance(sb: Sandbox, hours: float) -> None:
    requests.post(f"{sb.base_url}/_sandbox/clock/advance", json={"hours": hours}, timeout=10)


def writes(sb: Sandbox) -> list:
    return [w for w in sb.recorder.writes() if w.path.startswith(("/v1.0/", "/beta/"))]


def test_step1_turns_sync_off_waits_then_deletes(make_sandbox, rig_for) -> None:
    # A real-time clock that only moves when the test says so: the wait is under control.
    sb = make_sandbox(users=40, seed=4, dirsync_hours=60, ca_requests_per_second=1000)
    rig = rig_for(sb)
    eng = rig.engine
    eng.refresh()
    eng.ensure_plan()
    eng.begin("test", {})
    synced = [u.id for u in sb.tenant.users.values() if u.synced]
    assert synced

    cloud_only = {u.id for u in sb.tenant.users.values() if not u.synced} - {sb.admin_id}
    assert cloud_only

    first = eng.run_step(StepId.DELETE_USERS)
    assert first.status == StepStatus.WAITING_TIME
    assert "72 hours" in (first.waiting_for or "")
    (patch,) = [w for w in writes(sb) if w.method == "PATCH"]
    assert patch.method == "PATCH" and patch.path == f"/v1.0/organization/{sb.tenant_id}"
    # Cloud-only users need not wait for sync: they went in the same run, after the PATCH.
    assert writes(sb)[0] is patch
    early = sb.recorder.events("user-deleted")
    assert {e.detail["id"] for e in early} == cloud_only
    assert not any(e.detail["was_synced"] for e in early)
    # The horizon is 72 h after sync was turned off, on Graph's (the sandbox's) clock.
    sync_off = sb.clock.now_dt()
    assert first.waiting_until is not None
    assert abs(first.waiting_until - (sync_off + timedelta(hours=72))) < timedelta(minutes=5)

    # Still synced an hour later: running the step again sends nothing and keeps waiting.
    advance(sb, 1)
    again = eng.run_step(StepId.DELETE_USERS)
    assert again.status == StepStatus.WAITING_TIME
    assert len(writes(sb)) == 1 + len(cloud_only)

    advance(sb, 61)
    ready = eng.assess()[StepId.DELETE_USERS]
    assert ready.status == StepStatus.PENDING
    done = eng.run_step(StepId.DELETE_USERS)
    assert done.status == StepStatus.DONE, done
    assert [u.id for u in sb.tenant.users.values()] == [sb.admin_id]
    deleted = sb.recorder.events("user-deleted")
    assert len(deleted) == 39
    assert all(e.detail["sync_disabled_at"] is not None for e in deleted)
    assert {e.detail["id"] for e in deleted if e.detail["was_synced"]} == set(synced)
    assert sb.recorder.events("synced-delete-refused") == []
    assert len(sb.recorder.events("sync-disabled")) == 1  # turned off once, not per attempt


def test_last_line_guard_refuses_a_forged_plan_before_anything_is_sent(
    make_sandbox, rig_for
) -> None:
    sb = make_sandbox(users=20, seed=6, synced_fraction=0, time_scale=100_000)
    eng = rig_for(sb).engine
    eng.refresh()
    plan = eng.ensure_plan()
    eng.begin("test", {})
    # Bypass every check a saved plan gets: the plan object itself keeps no one and deletes
    # the admin. Only the guard in front of the wire stands between it and Graph.
    forged = dataclasses.replace(
        plan,
        keep=(),
        actions=(
            PlannedAction(StepId.DELETE_USERS, "delete-user", sb.admin_id, sb.admin_upn),
            *plan.actions,
        ),
    )
    eng.plan = forged
    with pytest.raises(CloseoutError, match="keeps"):
        eng.run_step(StepId.DELETE_USERS)
    assert writes(sb) == []
    assert len(sb.tenant.users) == 20

    # Per-user MFA: step 4 leaves the signed-in admin out even when the plan names them, and
    # the guard refuses a batch that would reach the wire anyway.
    eng.plan = dataclasses.replace(
        plan,
        actions=(PlannedAction(StepId.DISABLE_MFA, "disable-mfa", sb.admin_id, sb.admin_upn),),
    )
    ctx = eng.context()
    assert mfa.run(ctx, {sb.admin_id}) == []
    item = BatchItem(
        key=sb.admin_id,
        method="PATCH",
        url=f"/users/{sb.admin_id}/authentication/requirements",
        body={"perUserMfaState": "disabled"},
        headers={"Content-Type": "application/json"},
        version="beta",
        action="disable-mfa",
        label=sb.admin_upn,
    )
    with pytest.raises(CloseoutError, match="keeps"):
        ctx.execute(StepId.DISABLE_MFA, [item])
    assert writes(sb) == []
    assert sb.recorder.events("mfa-changed") == []


def test_a_saved_plan_that_keeps_someone_else_only_is_refused(make_sandbox, rig_for) -> None:
    sb = make_sandbox(users=20, seed=6, synced_fraction=0, time_scale=100_000)
    eng = rig_for(sb).engine
    eng.refresh()
    plan = eng.make_plan()
    other = next(u for u in sb.tenant.users.values() if u.id != sb.admin_id)
    forged = dataclasses.replace(
        plan, keep=(KeptAccount(other.id, other.user_principal_name, "x"),)
    )
    eng.plan_path.write_text(json.dumps(forged.to_dict()))
    eng.plan = None
    with pytest.raises(CloseoutError, match="does not keep"):
        eng.ensure_plan()


def test_step5_needs_the_typed_domain_and_the_manual_checks(make_sandbox, rig_for) -> None:
    sb = make_sandbox(users=12, seed=8, synced_fraction=0, subscriptions="none", time_scale=100_000)
    rig = rig_for(sb)
    eng = rig.engine
    eng.refresh()
    eng.ensure_plan()
    eng.begin("test", {})
    assert eng.run_step(StepId.DELETE_USERS).status == StepStatus.DONE
    # Nothing for step 4 to do: only the admin is left and no policy is to be turned off.
    assert eng.assess()[StepId.DISABLE_MFA].status == StepStatus.DONE
    s5 = eng.assess()[StepId.DELETE_DIRECTORY]
    assert s5.status == StepStatus.WAITING_PERSON and "manual" in s5.summary

    # Every manual check the portal makes, the MFA providers and partner roles included.
    assert {"invoices", "self-service", "azure", "mfa-providers", "partners"} == set(MANUAL_ITEMS)
    for key in MANUAL_ITEMS:
        eng.tick(key)
    assert eng.ticks() == set(MANUAL_ITEMS)
    eng.untick("azure")
    assert eng.ticks() == set(MANUAL_ITEMS) - {"azure"}
    assert eng.assess()[StepId.DELETE_DIRECTORY].status == StepStatus.WAITING_PERSON
    eng.tick("azure")
    with pytest.raises(CloseoutError):
        eng.tick("no-such-check")
    s5 = eng.assess()[StepId.DELETE_DIRECTORY]
    assert s5.status == StepStatus.PENDING  # ready for the cleanup, which needs the domain

    before = len(writes(sb))
    for typed in (None, "", "fabrikam.onmicrosoft.com", sb.initial_domain.upper()):
        with pytest.raises(ConfirmationMismatch) as info:
            eng.run_step(StepId.DELETE_DIRECTORY, confirm_domain=typed)
        assert sb.initial_domain in info.value.message
    assert len(writes(sb)) == before
    assert eng.states[StepId.DELETE_DIRECTORY].status == StepStatus.PENDING

    done = eng.run_step(StepId.DELETE_DIRECTORY, confirm_domain=sb.initial_domain)
    assert done.status == StepStatus.WAITING_PERSON, done
    assert "Delete the tenant" in eng.handoffs[StepId.DELETE_DIRECTORY].title
    assert len(sb.tenant.deleted_users) == 0 and len(sb.tenant.applications) == 0
    # Nothing the sandbox's portal checks is left but the manual items only a person clears.
    blockers = sb.deletion_blockers()
    assert blockers and all(
        b in [m.description for m in sb.tenant.manual_blockers.values()] for b in blockers
    )

    for key in list(sb.tenant.manual_blockers):
        sb.resolve_manual(key)
    sb.delete_tenant()
    final = eng.assess()
    assert eng.gone
    assert all(s.status == StepStatus.DONE for s in final.values())
    pack = eng.finish(0)
    assert pack is not None and (pack / "outcomes.csv").exists()

    kinds = {type(e) for e in rig.events}
    assert {StepChanged, InventoryRefreshed, HandoffUpdated, ItemFinished, ProgressUpdated} <= kinds
    finished = [e for e in rig.events if isinstance(e, ItemFinished)]
    assert {e.object_id for e in finished if e.action == "delete-user"} == {
        e.detail["id"] for e in sb.recorder.events("user-deleted")
    }


def test_done_only_after_a_fresh_read(make_sandbox, rig_for) -> None:
    """Graph lists with replication delay: a 204 alone does not make step 1 done."""
    sb = make_sandbox(users=15, seed=2, synced_fraction=0, time_scale=100_000)
    eng = rig_for(sb).engine
    eng.refresh()
    eng.ensure_plan()
    eng.begin("test", {})
    victim = next(
        u for u in sb.tenant.users.values() if u.id != sb.admin_id and not sb.tenant.roles_of(u.id)
    )
    # Graph accepts the delete of one user (204) but the user is still listed afterwards.
    sb.add_fault(method="DELETE", path=f"/users/{victim.id}$", status=204, times=-1)
    state = eng.run_step(StepId.DELETE_USERS)
    assert state.status != StepStatus.DONE
    assert sb.tenant.users.get(victim.id) is not None
    assert eng.assess()[StepId.DELETE_USERS].status != StepStatus.DONE


def test_step0_lists_the_users_whose_licences_carry_mailbox_or_onedrive_data(
    make_sandbox, rig_for, tmp_path: Path
) -> None:
    sb = make_sandbox(users=30, seed=12)
    t = sb.tenant
    data_plans = ("EXCHANGE_S_", "SHAREPOINT", "ONEDRIVE")
    expected = {
        u.user_principal_name
        for u in t.users.values()
        if any(
            name.startswith(data_plans)
            for sku in u.assigned_licenses
            for _pid, name in t.skus[sku].service_plans
        )
    }
    assert expected and len(expected) < len(t.users)  # the seed must have both kinds
    rig = rig_for(sb)
    rig.engine.refresh()
    rig.engine.make_plan()
    before = json.loads((rig.engine.dir / "inventory-before.json").read_text())
    assert set(before["usersWithMailboxOrOneDriveData"]) == expected
    state = rig.engine.assess(refresh=False)[StepId.PREPARE]
    assert str(len(expected)) in state.blockers[0]
    assert state.blockers[1].split(",")[0] in expected


def test_a_fresh_conditional_access_read_is_reused_but_reread_after_a_step_acts(
    make_sandbox, rig_for
) -> None:
    sb = make_sandbox(users=20, seed=13, synced_fraction=0.0)
    rig = rig_for(sb, disable_ca_mfa=True)

    def ca_reads() -> int:
        return sb.recorder.count(method="GET", path_prefix="/v1.0/identity/conditionalAccess/")

    rig.engine.refresh()
    rig.engine.refresh()  # within seconds: Conditional Access allows one request per second
    assert ca_reads() == 1
    assert sb.recorder.count(status=429) == 0
    rig.engine.make_plan()
    rig.engine.begin("test", {})
    assert rig.engine.run_step(StepId.DELETE_USERS).status == StepStatus.DONE
    assert rig.engine.run_step(StepId.DISABLE_MFA).status == StepStatus.DONE
    # Step 4 turned policies off; the assessment after it read them again, not the cached ones.
    assert all(p.state == "disabled" for p in rig.engine.inventory.policies if p.requires_mfa)


def test_the_plan_warns_when_more_than_one_account_is_kept(make_sandbox, rig_for) -> None:
    sb = make_sandbox(users=20, seed=14, synced_fraction=0.0)
    other = next(
        u for u in sb.tenant.users.values() if u.id != sb.admin_id and u.user_type == "Member"
    )
    rig = rig_for(sb, keep=(other.user_principal_name,))
    rig.engine.refresh()
    plan = rig.engine.make_plan()
    assert {k.id for k in plan.keep} == {sb.admin_id, other.id}
    assert any("2 accounts are kept" in w for w in plan.warnings)
    assert other.id not in plan.user_delete_ids()
