"""The safety invariants of design.md §3, proven through the CLI against a sandbox over HTTP.

Read-only commands send no write; the signed-in admin is never in a delete set (not with
``--keep``, not in a hand-edited saved plan); app-only sign-in must name whom to keep; a wrong
typed domain, a missing ``--yes``, a missing role or permission each stop before anything is
sent, with the documented exit code and a message that names the cause.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.sandbox.tenant import GLOBAL_ADMIN
from tests.support.cli_harness import FAST, graph_writes, journal_records, run_cli, target_args


@pytest.fixture
def small(make_sandbox):
    # Synced users, guests, admins, subscriptions and apps, on a fast clock.
    return make_sandbox(users=30, seed=5, time_scale=FAST)


def plan_json(result) -> dict:
    return json.loads(result.out)


def delete_ids(plan: dict) -> set[str]:
    return {a["object_id"] for a in plan["steps"]["1"] if a["action"] == "delete-user"}


def test_plan_sends_no_write_and_its_json_lists_every_action(small, tmp_path, monkeypatch):
    sb = small
    r = run_cli(
        ["plan", "--json", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 0, r.text
    assert graph_writes(sb) == []
    assert sb.recorder.count(method="GET") > 5  # it did read the tenant

    plan = plan_json(r)  # the whole of stdout is one JSON document
    assert plan["tenant"]["initial_domain"] == sb.initial_domain
    assert [k["id"] for k in plan["keep"]] == [sb.admin_id]
    others = {u.id for u in sb.tenant.users.values()} - {sb.admin_id}
    assert delete_ids(plan) == others
    actions = {a["action"] for step in plan["steps"].values() for a in step}
    assert {
        "disable-directory-sync",
        "delete-user",
        "cancel-subscription",
        "contact-partner",
        "delete-subscription",
        "report-ca-policy",
        "purge-user",
        "delete-application",
        "delete-service-principal",
        "delete-tenant",
    } <= actions
    # Plain text names the same counts.
    text = run_cli(
        ["plan", *target_args(sb, tmp_path)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert text.code == 0
    assert f"Delete users × {len(others)}" in text.out  # actions in words, as ACTION_LABELS
    assert graph_writes(sb) == []


def test_read_only_run_sends_no_write(small, tmp_path, monkeypatch):
    sb = small
    r = run_cli(
        [
            "run",
            "--headless",
            "--read-only",
            "--yes",
            "--confirm-domain",
            sb.initial_domain,
            "--confirm-manual",
            "all",
            "--json",
            *target_args(sb, tmp_path),
        ],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 3, r.text
    assert graph_writes(sb) == []
    lines = r.json_lines()
    assert any(o["event"] == "waiting" and "read-only" in o["message"] for o in lines)
    assert not [o for o in lines if o["event"] == "item"]
    assert len(sb.tenant.users) == 30


@pytest.mark.parametrize("keep_count", [0, 1, 3])
def test_signed_in_admin_is_never_in_the_delete_set(small, tmp_path, monkeypatch, keep_count):
    sb = small
    others = sorted(
        (u for u in sb.tenant.users.values() if u.id != sb.admin_id),
        key=lambda u: u.user_principal_name,
    )
    keep = others[:keep_count]
    argv = ["plan", "--json", *target_args(sb, tmp_path)]
    for u in keep:
        argv += ["--keep", u.user_principal_name]
    r = run_cli(argv, monkeypatch=monkeypatch, token=sb.issue_token())
    assert r.code == 0, r.text
    plan = plan_json(r)
    kept = {k["id"] for k in plan["keep"]}
    assert kept == {sb.admin_id} | {u.id for u in keep}
    purged = {a["object_id"] for a in plan["steps"]["5"] if a["action"] == "purge-user"}
    assert sb.admin_id not in delete_ids(plan) | purged
    assert not kept & delete_ids(plan)
    mfa_off = {a["object_id"] for a in plan["steps"]["4"] if a["action"] == "disable-mfa"}
    assert sb.admin_id not in mfa_off
    assert mfa_off == {u.id for u in keep}  # the other kept accounts lose MFA, not the admin


@pytest.mark.parametrize("drop_admin_from_keep", [False, True])
def test_hand_edited_plan_that_deletes_the_admin_is_refused_before_anything_is_sent(
    small, tmp_path, monkeypatch, drop_admin_from_keep
):
    sb = small
    made = run_cli(
        ["plan", *target_args(sb, tmp_path)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert made.code == 0, made.text
    path = tmp_path / "tenants" / sb.tenant_id / "plan.json"
    saved = json.loads(path.read_text())
    saved["steps"]["1"].append(
        {
            "action": "delete-user",
            "object_id": sb.admin_id,
            "label": sb.admin_upn,
            "detail": "",
            "kind": "api",
        }
    )
    if drop_admin_from_keep:
        saved["keep"] = []
    path.write_text(json.dumps(saved))

    r = run_cli(
        ["run", "--headless", "--yes", "--no-wait", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 2, r.text
    assert sb.admin_upn in r.err and "nothing was changed" in r.err
    assert "closeout plan" in r.err  # the hint: how to get a sound plan
    assert "Traceback" not in r.text
    assert graph_writes(sb) == []
    assert sb.tenant.users.get(sb.admin_id) is not None


def test_app_only_sign_in_must_name_the_account_to_keep(small, tmp_path, monkeypatch):
    sb = small
    r = run_cli(
        ["plan", "--json", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_app_token(),
    )
    assert r.code == 2, r.text
    assert "App-only sign-in" in r.err and "--keep" in r.err
    assert r.out == "" and "Traceback" not in r.text

    run = run_cli(
        ["run", "--headless", "--yes", "--no-wait", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_app_token(),
    )
    assert run.code == 2 and "--keep" in run.err
    assert graph_writes(sb) == []

    ga = sb.tenant.roles[GLOBAL_ADMIN].members
    other_ga = next(u for u in ga if u != sb.admin_id)
    upn = sb.tenant.users.get(other_ga).user_principal_name
    ok = run_cli(
        ["plan", "--json", "--keep", upn, *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_app_token(),
    )
    assert ok.code == 0, ok.text
    plan = plan_json(ok)
    assert [k["id"] for k in plan["keep"]] == [other_ga]
    assert other_ga not in delete_ids(plan)
    assert sb.admin_id in delete_ids(plan)  # app-only: the signed-in admin is just a user
    assert graph_writes(sb) == []


def test_app_only_keep_must_include_a_global_admin(small, tmp_path, monkeypatch):
    sb = small
    plain = next(
        u
        for u in sb.tenant.users.values()
        if not sb.tenant.roles_of(u.id) and u.user_type == "Member"
    )
    r = run_cli(
        ["plan", "--keep", plain.user_principal_name, *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_app_token(),
    )
    assert r.code == 2, r.text
    assert "Global Administrator" in r.err


def test_wrong_confirm_domain_changes_nothing(small, tmp_path, monkeypatch):
    sb = small
    r = run_cli(
        [
            "run",
            "--headless",
            "--yes",
            "--json",
            "--confirm-domain",
            "contoso.onmicrosoft.com",
            *target_args(sb, tmp_path),
        ],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 2, r.text
    # Nothing reached the tenant; the journal below is written, so it is not "nothing changed".
    assert sb.initial_domain in r.err and "nothing was sent to the tenant" in r.err
    assert "Traceback" not in r.text
    assert graph_writes(sb) == []
    lines = r.json_lines()
    errors = [o for o in lines if o["event"] == "error"]
    assert len(errors) == 1 and sb.initial_domain in errors[0]["message"]
    assert lines[-1]["event"] == "exit" and lines[-1]["code"] == 2
    # The journal records the refused confirmation and the run's real exit code.
    recs = journal_records(sb, tmp_path)
    confirms = [x for x in recs if x["kind"] == "confirm"]
    assert confirms and confirms[-1]["matched"] is False
    assert "contoso" not in json.dumps(recs)  # only the expected domain is kept
    assert [x["exit_code"] for x in recs if x["kind"] == "run-end"] == [2]


def test_without_yes_nothing_destructive_runs_and_the_count_is_named(small, tmp_path, monkeypatch):
    sb = small
    # Without --no-wait too: it must not wait for a --yes that can never come.
    r = run_cli(
        ["run", "--headless", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 3, r.text
    assert "Delete 29 users? They can be restored for 30 days." in r.out
    assert "--yes" in r.out
    assert graph_writes(sb) == []


def test_missing_global_admin_role_exits_5_and_names_it(make_sandbox, tmp_path, monkeypatch):
    sb = make_sandbox(users=20, seed=5, admin_roles=(), time_scale=FAST)
    r = run_cli(
        ["run", "--headless", "--yes", "--json", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 5, r.text
    missing = [o for o in r.json_lines() if o["event"] == "missing"]
    assert {o["name"] for o in missing if o["kind"] == "role"} >= {"Global Administrator"}
    assert graph_writes(sb) == []
    status = run_cli(
        ["status", *target_args(sb, tmp_path)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert status.code == 5 and "Global Administrator" in status.out


def test_missing_permissions_exit_5_and_are_named(small, tmp_path, monkeypatch):
    sb = small
    token = sb.issue_token(scopes={"User.Read"})
    for argv in (
        ["run", "--headless", "--yes"],
        ["plan"],
        ["status"],
    ):
        r = run_cli([*argv, *target_args(sb, tmp_path)], monkeypatch=monkeypatch, token=token)
        assert r.code == 5, (argv, r.text)
        assert "User.Read.All" in r.text and "Policy.Read.All" in r.text, r.text
        assert "Traceback" not in r.text
    # Reading is enough for a plan, not for a run: a run names what deleting needs.
    reader = sb.issue_token(
        scopes={
            "User.Read.All",
            "Organization.Read.All",
            "Policy.Read.All",
            "Application.Read.All",
            "RoleManagement.Read.Directory",
        }
    )
    assert (
        run_cli(["plan", *target_args(sb, tmp_path)], monkeypatch=monkeypatch, token=reader).code
        == 0
    )
    r = run_cli(
        ["run", "--headless", "--yes", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=reader,
    )
    assert r.code == 5 and "User.ReadWrite.All" in r.out
    # What the token's claims say is only a warning (closeout does not decide on the contents
    # of a token): the run goes on until Graph refuses the first write, which names what it
    # needs, and stops there. Refused, so nothing changed.
    assert "Organization.ReadWrite.All" in r.err
    writes = graph_writes(sb)
    assert len(writes) == 1 and writes[0].status == 403, writes
    assert sb.tenant.org.sync_enabled
    assert len(sb.tenant.users) == 30


def test_time_scale_is_refused_for_a_real_graph(tmp_path: Path, monkeypatch):
    r = run_cli(
        [
            "plan",
            "--graph-url",
            "https://graph.microsoft.com",
            "--time-scale",
            "100",
            "--state-dir",
            str(tmp_path),
        ],
        monkeypatch=monkeypatch,
        token="x.y.z",
    )
    assert r.code == 2 and "--time-scale" in r.err
