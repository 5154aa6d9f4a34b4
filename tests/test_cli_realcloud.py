"""Issue 7, item 4, end to end: the full headless close-out under each sandbox behaviour for
who owns a directly bought subscription, with the end state read from the sandbox's recorder.

Partner-bought means another tenant: with direct subscriptions carrying the tenant's own
``ownerTenantId`` (the docs' example) or none, only the partner's gets "contact your partner".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_harness import (
    FAST,
    LineTap,
    PortalHuman,
    full_run_args,
    run_cli,
    target_args,
)

from services.sandbox import Sandbox

pytestmark = pytest.mark.slow


def full_argv(sb: Sandbox, state: Path, *extra: str) -> list[str]:
    return [*full_run_args(sb, state), *extra]


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

    tap = LineTap()
    with PortalHuman(sb, tap) as human:
        result = run_cli(
            full_argv(sb, state), monkeypatch=monkeypatch, token=sb.issue_token(), tap=tap
        )
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
