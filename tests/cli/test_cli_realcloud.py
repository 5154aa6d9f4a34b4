"""Issue 7, items 2, 4 and 9: the full headless close-out under each sandbox behaviour that the
documentation leaves open, with the end state read from the sandbox's recorder.

- Directory sync turns off once: the PATCH is sent exactly once across runs and restarts, a run
  with ``--no-wait`` ends "waiting on time" (exit 3, never "failed") with the horizon from the
  journal, cloud-only users go before the conversion ends and synced ones after it; the
  organization's flag may flip at once, lag until the end, or read null. A Connect server that
  turns sync back on after the window is said plainly, once, instead of a loop.
- Partner-bought means another tenant: with direct subscriptions carrying the tenant's own
  ``ownerTenantId`` (the docs' example) or none, only the partner's gets "contact your partner".
- Step 2's click path follows the current "Cancel your subscription" article, in English and
  Swedish.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.journal.writer import Journal
from services.sandbox import Sandbox
from services.sandbox.graph_api.organization import sync_flag
from tests.support.cli_harness import (
    FAST,
    Result,
    close_with_portal,
    full_run_args,
    graph_writes,
    run_cli,
    sandbox_state,
    target_args,
)

pytestmark = pytest.mark.slow


def full_argv(sb: Sandbox, state: Path, *extra: str) -> list[str]:
    return [*full_run_args(sb, state), *extra]


def sync_patches(sb: Sandbox) -> list[Any]:
    return [
        w
        for w in graph_writes(sb)
        if w.method == "PATCH" and w.path == f"/v1.0/organization/{sb.tenant_id}"
    ]


def step_events(result: Result, step: int) -> list[dict[str, Any]]:
    return [o for o in result.json_lines() if o["event"] == "step" and o["step"] == step]


def horizon_of(sb: Sandbox, patch: Any) -> datetime:
    return sb.clock.at(patch.sim_time) + timedelta(hours=72)


def assert_waits_for_sync(result: Result, sb: Sandbox, horizon: datetime) -> None:
    assert result.code == 3, result.text[-3000:]
    lines = result.json_lines()
    assert not [o for o in lines if o["event"] == "failed"]
    last = step_events(result, 1)[-1]
    assert last["status"] == "waiting-time", last
    until = datetime.fromisoformat(last["waiting_until"])
    # The journal keeps Graph's clock at the PATCH (the Date header: whole seconds).
    assert abs(until - horizon) <= timedelta(seconds=2), (until, horizon)
    waiting = [o["message"] for o in lines if o["event"] == "waiting"]
    assert any(
        m.startswith("step 1:") and f"until {horizon:%Y-%m-%d %H:%M} UTC" in m for m in waiting
    ), waiting
    assert lines[-1]["event"] == "exit" and lines[-1]["code"] == 3


@pytest.mark.parametrize("behaviour", ["sync-flag-flips", "sync-flag-lags", "sync-flag-null"])
def test_sync_turns_off_once_across_runs_and_cloud_only_users_do_not_wait(
    make_sandbox, tmp_path: Path, monkeypatch, behaviour: str
) -> None:
    # The clock runs at real speed while sync turns off (72 simulated hours would pass in a
    # second at the usual test speed), then fast for the rest of the close-out.
    sb = make_sandbox(
        users=120,
        seed=21,
        dirsync_hours=72,
        ca_requests_per_second=1000,
        behaviours=behaviour,
    )
    state = tmp_path / "state"
    t = sb.tenant
    synced = {u.id for u in t.users.values() if u.synced}
    cloud_only = {u.id for u in t.users.values() if not u.synced} - {sb.admin_id}
    assert len(synced) > 10 and len(cloud_only) > 10

    # Run 1: the PATCH, then every user who is not synchronized; then "waiting on time".
    first = run_cli(
        full_argv(sb, state, "--no-wait"), monkeypatch=monkeypatch, token=sb.issue_token()
    )
    (patch,) = sync_patches(sb)
    horizon = horizon_of(sb, patch)
    assert_waits_for_sync(first, sb, horizon)
    confirmed = [o["message"] for o in first.json_lines() if o["event"] == "confirmed"]
    assert any("uninstalling the sync client" in m for m in confirmed), confirmed
    early = sb.recorder.events("user-deleted")
    assert {e.detail["id"] for e in early} == cloud_only
    assert all(e.sim_time > patch.sim_time for e in early)
    assert sb.recorder.events("sync-complete") == []  # the conversion is still running
    org_flag = {"sync-flag-flips": False, "sync-flag-lags": True, "sync-flag-null": None}
    assert t.org.sync_disabled_at is not None
    assert sync_flag(sb) is org_flag[behaviour]
    converted_at = {uid: t.users.get(uid).synced_until for uid in synced}

    # Run 2, a new process as far as closeout knows: whatever Graph reads, no second PATCH.
    second = run_cli(
        full_argv(sb, state, "--no-wait"), monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert_waits_for_sync(second, sb, horizon)
    assert len(sync_patches(sb)) == 1
    status = run_cli(
        ["status", "--json", *target_args(sb, state)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert status.code == 3, status.text
    step1 = json.loads(status.out)["1"]
    assert step1["status"] == "waiting-time", step1
    assert abs(datetime.fromisoformat(step1["waiting_until"]) - horizon) <= timedelta(seconds=2)

    # Run 3, at the usual fast clock: it waits for the conversion and closes the tenant.
    sb.clock.set_time_scale(FAST)
    last, human = close_with_portal(sb, full_argv(sb, state), monkeypatch=monkeypatch)
    assert last.code == 0, last.text[-3000:]
    assert not human.errors, human.errors
    assert t.deleted

    rec = sb.recorder
    assert len(sync_patches(sb)) == 1
    assert len(rec.events("sync-disabled")) == 1
    assert rec.events("synced-delete-refused") == []
    (sync_done,) = rec.events("sync-complete")
    deleted = {e.detail["id"]: e for e in rec.events("user-deleted")}
    assert set(deleted) == synced | cloud_only
    # Cloud-only users before the conversion ended; each synced one after it was converted.
    assert all(deleted[uid].sim_time < sync_done.sim_time for uid in cloud_only)
    assert all(deleted[uid].sim_time >= converted_at[uid] for uid in synced)
    assert not [
        o for o in step_events(first, 1) + step_events(second, 1) if o["status"] == "failed"
    ]


def test_sync_turned_back_on_after_the_window_is_said_plainly_not_looped(
    make_sandbox, tmp_path: Path, monkeypatch
) -> None:
    sb = make_sandbox(
        users=60,
        seed=22,
        dirsync_hours=72,
        ca_requests_per_second=1000,
        behaviours="connect-still-running,sync-flag-lags",
    )
    state = tmp_path / "state"
    first = run_cli(
        full_argv(sb, state, "--no-wait"), monkeypatch=monkeypatch, token=sb.issue_token()
    )
    (patch,) = sync_patches(sb)
    assert_waits_for_sync(first, sb, horizon_of(sb, patch))

    # 79 hours on, the Connect server nobody stopped has long turned sync back on.
    sb.clock.advance(79 * 3600)
    synced_now = sandbox_state(sb)["syncedUsers"]
    assert synced_now > 0 and sb.recorder.events("sync-reenabled")
    # Without --no-wait: it must still return at once, saying what happened, not loop.
    again = run_cli(full_argv(sb, state), monkeypatch=monkeypatch, token=sb.issue_token())
    assert again.code == 3, again.text[-3000:]
    lines = again.json_lines()
    assert not [o for o in lines if o["event"] == "failed"]
    s1 = step_events(again, 1)[-1]
    assert s1["status"] == "blocked", s1
    said = " ".join(s1["blockers"])
    assert "sync server still running" in said and "new plan" in said
    assert f"{synced_now} users are still synchronized" in said
    assert len(sync_patches(sb)) == 1

    # The remedy it names: a new plan, then step 1 turns sync off once more.
    plan = run_cli(
        ["plan", *target_args(sb, state)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert plan.code == 0, plan.text
    assert "uninstalling the sync client" in plan.out
    third = run_cli(
        full_argv(sb, state, "--no-wait"), monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert len(sync_patches(sb)) == 2
    second_patch = sync_patches(sb)[1]
    assert_waits_for_sync(third, sb, horizon_of(sb, second_patch))


def test_a_turn_off_in_flight_when_the_run_died_counts_as_sent(
    make_sandbox, tmp_path: Path, monkeypatch
) -> None:
    # A run killed after journalling its intent: the PATCH may have reached Graph, and a
    # lagging flag cannot say. closeout does not send it again within the window.
    sb = make_sandbox(users=40, seed=25, dirsync_hours=72, behaviours="sync-flag-lags")
    state = tmp_path / "state"
    journal = Journal(sb.tenant_id, root=state).open()
    try:
        journal.start_run("run", options={})
        journal.write_intents(
            [
                {
                    "step": 1,
                    "action": "disable-directory-sync",
                    "object": sb.tenant_id,
                    "label": sb.tenant.org.display_name,
                }
            ]
        )
    finally:
        journal.close()
    (intent,) = [r for r in Journal(sb.tenant_id, root=state).records() if r["kind"] == "intent"]
    cloud_only = {u.id for u in sb.tenant.users.values() if not u.synced} - {sb.admin_id}
    result = run_cli(
        full_argv(sb, state, "--no-wait"), monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert sync_patches(sb) == []
    assert_waits_for_sync(result, sb, datetime.fromisoformat(intent["t"]) + timedelta(hours=72))
    summary = step_events(result, 1)[-1]["summary"]
    assert "counts as sent" in summary
    deleted = {e.detail["id"] for e in sb.recorder.events("user-deleted")}
    assert deleted == cloud_only


@pytest.mark.parametrize("behaviour", ["own-tenant-owner", "no-owner"])
def test_the_partner_note_lands_only_on_the_partners_subscription(
    make_sandbox, tmp_path: Path, monkeypatch, behaviour: str
) -> None:
    sb = make_sandbox(users=60, seed=23, time_scale=FAST, behaviours=behaviour)
    state = tmp_path / "state"
    partner = {s.id for s in sb.tenant.subscriptions.values() if s.owner_tenant_id}
    direct_active = {
        s.id
        for s in sb.tenant.subscriptions.values()
        if not s.owner_tenant_id and s.status == "Enabled"
    }
    assert len(partner) == 1 and direct_active

    plan = run_cli(
        ["plan", "--json", *target_args(sb, state)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert plan.code == 0, plan.text
    step2 = json.loads(plan.out)["steps"]["2"]
    assert {a["object_id"] for a in step2 if a["action"] == "contact-partner"} == partner

    result, human = close_with_portal(sb, full_argv(sb, state), monkeypatch=monkeypatch)
    assert result.code == 0, result.text[-3000:]
    assert not human.errors, human.errors
    handoffs = [o for o in result.json_lines() if o["event"] == "handoff" and o["step"] == 2]
    noted = {i["object"] for h in handoffs for i in h["items"] if "partner" in i["note"]}
    assert noted == partner
    # The recorder: the partner cancelled its own; every direct one was cancelled directly.
    cancelled = {
        e.detail["id"]: e.detail["partner"] for e in sb.recorder.events("subscription-cancelled")
    }
    assert {sid for sid, by_partner in cancelled.items() if by_partner} == partner
    assert direct_active <= {sid for sid, by_partner in cancelled.items() if not by_partner}
    assert sb.tenant.deleted


# The article's MOSA steps, one line each: products, the subscription, its details page's
# Cancel subscription, when (now, not at renewal), why and confirm, then the next one.
CLICK_PATH = {
    "en": [
        ["Billing > Your products"],
        ["Select the subscription"],
        ["Subscription and payment settings", "Cancel subscription"],
        ["Options for canceling", "Cancel now", "Cancel before the next renewal date", "Next"],
        ["reason", "Cancel now"],
        ["Repeat"],
    ],
    "sv": [
        ["Fakturering > Dina produkter"],
        ["Välj den prenumeration"],
        ["Prenumerations- och betalningsinställningar", "Avbryt prenumeration"],
        ["Alternativ för att avbryta", "Avbryt nu", "Avbryt före nästa förnyelsedatum", "Nästa"],
        ["anledning", "Avbryt nu"],
        ["Upprepa"],
    ],
}


@pytest.mark.parametrize("lang", ["en", "sv"])
def test_step_2_click_path_follows_the_current_article(
    make_sandbox, tmp_path: Path, monkeypatch, lang: str
) -> None:
    sb = make_sandbox(users=30, seed=24, time_scale=FAST)
    result = run_cli(
        ["run", "--headless", "--json", "--no-wait", "--lang", lang, *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert result.code == 3, result.text[-2000:]
    (handoff,) = [o for o in result.json_lines() if o["event"] == "handoff" and o["step"] == 2]
    path = handoff["click_path"]
    assert len(path) == len(CLICK_PATH[lang]), path
    for line, parts in zip(path, CLICK_PATH[lang], strict=True):
        assert all(part in line for part in parts), (line, parts)
    assert graph_writes(sb) == []
