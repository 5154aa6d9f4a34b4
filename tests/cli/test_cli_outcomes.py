"""How a headless run ends when it cannot finish: permanent failures (exit 4, listed), waits on
a person or on time (exit 3, named with the admin-center link), ``status`` exit codes, and the
evidence pack that ``export`` writes for everything acted on so far.
"""

from __future__ import annotations

import json

import pytest

from services.sandbox.tenant import User
from services.steps.subscriptions import ARTICLE_PRODUCTS_LINK
from tests.support.cli_harness import (
    FAST,
    export_pack,
    graph_writes,
    journal_records,
    read_outcomes_csv,
    run_cli,
    target_args,
)


@pytest.fixture
def tenant(make_sandbox):
    # No directory sync here: these tests are about what happens after step 1 starts.
    return make_sandbox(users=40, seed=9, synced_fraction=0, time_scale=FAST)


def plain_members(sb, n):
    users = sorted(
        (
            u
            for u in sb.tenant.users.values()
            if u.id != sb.admin_id and not sb.tenant.roles_of(u.id) and u.user_type == "Member"
        ),
        key=lambda u: u.user_principal_name,
    )
    return users[:n]


def test_denied_deletes_exit_4_listing_exactly_those_users(tenant, tmp_path, monkeypatch):
    sb = tenant
    denied = plain_members(sb, 3)
    for u in denied:
        sb.add_fault(
            method="DELETE",
            path=f"/users/{u.id}$",
            status=403,
            code="Authorization_RequestDenied",
            times=-1,
        )
    r = run_cli(
        ["run", "--headless", "--yes", "--json", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 4, r.text
    lines = r.json_lines()
    failed = [o["message"] for o in lines if o["event"] == "failed"]
    assert len(failed) == 3, failed
    for u in denied:
        assert sum(u.user_principal_name in m for m in failed) == 1
        assert any("Authorization_RequestDenied" in m for m in failed)
    everyone_else = {x.user_principal_name for x in sb.tenant.users.values()} - {
        u.user_principal_name for u in denied
    }
    assert not [m for m in failed for upn in everyone_else if upn in m]
    # Every other user is deleted; the denied ones and the admin remain.
    assert {u.id for u in sb.tenant.users.values()} == {sb.admin_id} | {u.id for u in denied}
    assert len(sb.recorder.events("user-deleted")) == 40 - 1 - 3
    # A 403 is permanent: sent once, not retried.
    for u in denied:
        assert sb.recorder.count(method="DELETE", path_prefix=f"/v1.0/users/{u.id}") == 1
    items = [o for o in lines if o["event"] == "item" and o["outcome"] == "failed"]
    assert {o["object"] for o in items} == {u.id for u in denied}
    assert lines[-1]["event"] == "exit" and lines[-1]["code"] == 4
    # The human-readable form lists them too.
    text = run_cli(
        ["run", "--headless", "--yes", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert text.code == 4
    assert (
        sum(line.startswith("[") and "FAILED step 1" in line for line in text.out.splitlines()) == 3
    )


def test_no_wait_names_what_it_waits_for_with_the_admin_center_link(tenant, tmp_path, monkeypatch):
    sb = tenant
    r = run_cli(
        ["run", "--headless", "--yes", "--no-wait", "--json", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 3, r.text
    lines = r.json_lines()
    waiting = [o["message"] for o in lines if o["event"] == "waiting"]
    step2 = [w for w in waiting if w.startswith("step 2")]
    assert step2 and "admin center" in step2[0] and ARTICLE_PRODUCTS_LINK in step2[0]
    # Steps 1 and 4 were done on the way: only the handoffs remain.
    assert len(sb.tenant.users) == 1
    handoffs = [o for o in lines if o["event"] == "handoff" and o["step"] == 2]
    assert handoffs and handoffs[0]["link"] == ARTICLE_PRODUCTS_LINK
    partner = [i for i in handoffs[0]["items"] if "partner" in i["note"]]
    assert len(partner) == 1  # the partner-bought subscription: "contact your partner"
    assert "Cancel subscription" in " ".join(handoffs[0]["click_path"])

    # status agrees, as JSON, and exits 3 (waiting on a person).
    st = run_cli(
        ["status", "--json", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert st.code == 3, st.text
    states = json.loads(st.out)
    assert sorted(states) == ["0", "1", "2", "3", "4", "5"]
    assert states["1"]["status"] == "done" and states["4"]["status"] == "done"
    assert states["2"]["status"] == "waiting-person"
    assert states["2"]["link"] == ARTICLE_PRODUCTS_LINK
    assert states["5"]["status"] == "blocked"


def test_export_holds_every_object_acted_on(tenant, tmp_path, monkeypatch):
    sb = tenant
    denied = plain_members(sb, 1)[0]
    # One transient failure (retried) and one permanent one, so that outcomes vary.
    sb.add_fault(method="DELETE", path=f"/users/{denied.id}$", status=403, times=-1)
    sb.add_fault(method="DELETE", path="/users/", status=503, times=2)
    first = run_cli(
        ["run", "--headless", "--yes", "--no-wait", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert first.code == 4, first.text
    sb.faults.clear()
    second = run_cli(
        ["run", "--headless", "--yes", "--no-wait", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert second.code == 3, second.text
    writes_before = len(graph_writes(sb))

    out = tmp_path / "pack"
    r = export_pack(sb, tmp_path, out, monkeypatch=monkeypatch)
    assert r.code == 0, r.text
    assert r.out.strip() == str(out)
    assert len(graph_writes(sb)) == writes_before  # exporting changes nothing

    outcomes = [x for x in journal_records(sb, tmp_path) if x["kind"] == "outcome"]
    rows = read_outcomes_csv(out)
    # One row per object and action, its latest outcome (the journal keeps the history).
    assert len(rows) == len({(o["action"], o["object"]) for o in outcomes}) < len(outcomes)
    assert {(r["action"], r["object_id"]) for r in rows} == {
        (o["action"], o["object"]) for o in outcomes
    }
    deleted = {e.detail["id"] for e in sb.recorder.events("user-deleted")}
    assert deleted == {
        r["object_id"] for r in rows if r["action"] == "delete-user" and r["result"] == "done"
    }
    assert len(deleted) == 39
    # The denied user failed in the first run and was deleted in the second: it is deleted,
    # sent once in each run; the failure stays in the journal.
    mine = [r for r in rows if r["object_id"] == denied.id]
    assert [(r["result"], r["attempts"]) for r in mine] == [("done", "2")]
    assert [o["result"] for o in outcomes if o["object"] == denied.id] == ["failed", "done"]
    summary_md = (out / "summary.md").read_text()
    assert "Results (39 objects)" in summary_md and "Failures (0)" in summary_md
    before = json.loads((out / "inventory-before.json").read_text())
    assert len(before["users"]) == 40
    summary = json.loads((out / "summary.json").read_text())
    assert summary  # present and parseable
    sums = (out / "SHA256SUMS").read_text()
    assert "outcomes.csv" in sums and "inventory-before.json" in sums


@pytest.mark.timeout(60)
def test_users_that_appear_after_planning_are_flagged_not_deleted(tenant, tmp_path, monkeypatch):
    sb = tenant
    made = run_cli(
        ["plan", *target_args(sb, tmp_path)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert made.code == 0, made.text
    newcomer = User(
        id="0f0e0d0c-0b0a-4909-8807-060504030201",
        user_principal_name=f"late.arrival@{sb.initial_domain}",
        display_name="Late Arrival",
        given_name="Late",
        surname="Arrival",
    )
    with sb.lock:
        sb.tenant.users.add(newcomer.id, newcomer)
    # Waiting is allowed here, yet the run must not hang: no poll brings a re-plan about.
    r = run_cli(
        ["run", "--headless", "--yes", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 3, r.text
    assert newcomer.user_principal_name in r.out and "re-plan" in r.out
    assert {u.id for u in sb.tenant.users.values()} == {sb.admin_id, newcomer.id}
    assert sb.recorder.count(method="DELETE", path_prefix=f"/v1.0/users/{newcomer.id}") == 0


@pytest.mark.parametrize("planned_with_flag", [False, True])
def test_policy_choices_of_the_run_and_its_plan_agree(
    tenant, tmp_path, monkeypatch, planned_with_flag
):
    """A saved plan made with other step-4 choices is made again, so apply == plan."""
    sb = tenant
    flag = ["--disable-ca-mfa"]
    made = run_cli(
        ["plan", *(flag if planned_with_flag else []), *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert made.code == 0, made.text
    r = run_cli(
        [
            "run",
            "--headless",
            "--yes",
            "--no-wait",
            "--json",
            *([] if planned_with_flag else flag),
            *target_args(sb, tmp_path),
        ],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 3, r.text
    saved = json.loads((tmp_path / "tenants" / sb.tenant_id / "plan.json").read_text())
    step4 = {a["action"] for a in saved["steps"]["4"]}
    mfa_policies = [
        p
        for p in sb.tenant.ca_policies.values()
        if "mfa" in p.built_in_controls or p.authentication_strength
    ]
    ca_writes = [w for w in graph_writes(sb) if "conditionalAccess" in w.path]
    if planned_with_flag:  # the run was without the flag: nothing turned off, plan says report
        assert "report-ca-policy" in step4 and "disable-ca-policy" not in step4
        assert ca_writes == []
        assert any(p.state != "disabled" for p in mfa_policies)
    else:  # the run asked for it: the plan now says so, and it was done
        assert "disable-ca-policy" in step4 and "report-ca-policy" not in step4
        assert all(p.state == "disabled" for p in mfa_policies)
        assert len(ca_writes) == len(mfa_policies)


@pytest.mark.timeout(60)
def test_step5_names_the_manual_checks_it_needs_instead_of_waiting(
    make_sandbox, tmp_path, monkeypatch
):
    sb = make_sandbox(users=12, seed=3, synced_fraction=0, subscriptions="none", time_scale=FAST)
    base = [
        "run",
        "--headless",
        "--yes",
        "--json",
        "--confirm-domain",
        sb.initial_domain,
        *target_args(sb, tmp_path),
    ]
    r = run_cli(base, monkeypatch=monkeypatch, token=sb.issue_token())
    assert r.code == 3, r.text
    waiting = [o["message"] for o in r.json_lines() if o["event"] == "waiting"]
    assert any(
        "--confirm-manual invoices,self-service,azure,mfa-providers,partners" in w for w in waiting
    ), waiting
    assert len(sb.tenant.deleted_users) > 0  # the irreversible cleanup did not run yet

    # Ticking four is not enough; the fifth is named.
    r = run_cli(
        [*base, "--confirm-manual", "invoices,self-service,mfa-providers,partners"],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 3
    waiting = [o["message"] for o in r.json_lines() if o["event"] == "waiting"]
    assert any("--confirm-manual azure " in w for w in waiting), waiting

    # With all ticked the cleanup runs and the run waits for the portal's "Delete tenant".
    r = run_cli(
        [*base, "--confirm-manual", "azure", "--no-wait"],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 3, r.text
    assert len(sb.tenant.deleted_users) == 0 and len(sb.tenant.applications) == 0
    waiting = [o["message"] for o in r.json_lines() if o["event"] == "waiting"]
    assert any(w.startswith("step 5") and "Entra admin center" in w for w in waiting), waiting
