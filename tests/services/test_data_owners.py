"""Data before step 1: ``closeout data-owners`` lists who holds mailbox or OneDrive data, with
the sizes Microsoft's usage reports give (a 302 to a download that needs no token), survives
reports that conceal user names (Microsoft's default) and a token without Reports.Read.All, and
step 1's confirmation names the owners."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from services.auth.scopes import READ_ONLY_SCOPES, RUN_SCOPES, scopes_for
from services.sandbox import Sandbox
from services.sandbox.authz import ALL_SCOPES
from tests.support.cli_harness import FAST, graph_writes, run_cli, target_args


def _tenant(make_sandbox, behaviours: str = "") -> Sandbox:
    return make_sandbox(users=20, seed=3, synced_fraction=0, time_scale=FAST, behaviours=behaviours)


def _licensed(sb: Sandbox) -> set[str]:
    skus = sb.tenant.skus
    return {
        u.user_principal_name
        for u in sb.tenant.users.values()
        if any(
            name.startswith(("EXCHANGE_S_", "SHAREPOINT", "ONEDRIVE"))
            for sku in u.assigned_licenses
            if sku in skus
            for _id, name in skus[sku].service_plans
        )
    }


def _owners(sb: Sandbox, tmp_path: Path, monkeypatch, token: str | None = None) -> dict:
    out = tmp_path / "owners.csv"
    r = run_cli(
        ["data-owners", "--json", "--out", str(out), *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=token or sb.issue_token(),
    )
    assert r.code == 0, r.text
    doc = json.loads(r.out)
    with out.open(encoding="utf-8") as fh:
        doc["csv"] = list(csv.DictReader(fh))
    return doc


def test_sizes_come_from_the_usage_reports_where_names_are_shown(
    make_sandbox, tmp_path: Path, monkeypatch
) -> None:
    sb = _tenant(make_sandbox, "report-names-shown")
    doc = _owners(sb, tmp_path, monkeypatch)
    assert doc["sizes"] == "read" and doc["note"] == ""
    owners = {o["upn"]: o for o in doc["owners"]}
    licensed = _licensed(sb)
    assert licensed and licensed <= set(owners)
    assert all(owners[u]["usage"]["mailbox_bytes"] > 0 for u in licensed)
    # The report knows more than the licences: a mailbox its removed licence left behind.
    (left,) = [o for o in owners.values() if not o["licensed"]]
    assert left["usage"]["mailbox_bytes"] > 0 and left["upn"] not in licensed
    rows = {r["userPrincipalName"]: r for r in doc["csv"]}
    assert set(rows) == set(owners)
    assert int(rows[left["upn"]]["mailboxBytes"]) == left["usage"]["mailbox_bytes"]
    # The download URL needs no token, and closeout handed it none; nothing was written.
    assert sb.recorder.events("report-download-with-token") == []
    assert graph_writes(sb) == []


def test_concealed_names_are_said_and_the_list_comes_from_the_licences(
    make_sandbox, tmp_path: Path, monkeypatch
) -> None:
    sb = _tenant(make_sandbox)  # Microsoft's default since September 2021
    doc = _owners(sb, tmp_path, monkeypatch)
    assert doc["sizes"] == "concealed"
    assert "Org settings" in doc["note"] and "Reports" in doc["note"]
    assert {o["upn"] for o in doc["owners"]} == _licensed(sb)
    assert all(o["usage"] is None for o in doc["owners"])
    assert graph_writes(sb) == []  # the setting is the admin's to change, never closeout's


def test_without_reports_read_all_the_list_still_comes_by_licence(
    make_sandbox, tmp_path: Path, monkeypatch
) -> None:
    sb = _tenant(make_sandbox, "report-names-shown")
    token = sb.issue_token(scopes=ALL_SCOPES - {"Reports.Read.All"})
    doc = _owners(sb, tmp_path, monkeypatch, token)
    assert doc["sizes"] == "unavailable"
    assert "Reports.Read.All" in doc["note"]
    assert {o["upn"] for o in doc["owners"]} == _licensed(sb)


def test_only_data_owners_asks_for_reports_read_all() -> None:
    assert "Reports.Read.All" in scopes_for(read_only=True, usage_reports=True)
    assert "Reports.Read.All" not in READ_ONLY_SCOPES
    assert "Reports.Read.All" not in RUN_SCOPES


@pytest.mark.parametrize("command", ["plan", "run"])
def test_the_plan_and_step_1_name_the_data_owners(
    make_sandbox, tmp_path: Path, monkeypatch, command: str
) -> None:
    sb = _tenant(make_sandbox)
    # The plan names everyone whose data the close-out loses; step 1 those it deletes.
    others = _licensed(sb) - ({sb.admin_upn} if command == "run" else set())
    argv = ["plan"] if command == "plan" else ["run", "--headless", "--yes", "--no-wait"]
    r = run_cli(
        [*argv, *target_args(sb, tmp_path)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert r.code in (0, 3), r.text
    said = "have mailbox or OneDrive data" if command == "plan" else "hold mailbox or OneDrive"
    line = next((x for x in r.out.splitlines() if said in x), "")
    assert (line and "data-owners" in line) or command == "plan", r.out
    named = [u for u in others if u in line]
    assert len(named) == 5 and f"and {len(others) - 5} more" in line, line


@pytest.mark.parametrize("names", ["", "report-names-shown"], ids=["concealed", "shown"])
def test_hostile_names_reach_the_usage_reports_without_breaking_them(
    make_sandbox, tmp_path: Path, monkeypatch, names: str
) -> None:
    # Issue 9's hostile tenant (a lone surrogate in a UPN among them): the report is still
    # served, so closeout reads it instead of meeting a dropped connection.
    sb = make_sandbox(
        users=20, seed=3, synced_fraction=0, time_scale=FAST, hostile_names=True, behaviours=names
    )
    (lone,) = [u for u in sb.tenant.users.values() if "\ud83d" in u.user_principal_name]
    admin = sb.tenant.users.get(sb.admin_id)
    assert admin is not None
    lone.assigned_licenses = list(admin.assigned_licenses)
    assert lone.user_principal_name in _licensed(sb)  # so the reports have a row for it
    doc = _owners(sb, tmp_path, monkeypatch)
    assert doc["sizes"] == ("read" if names else "concealed"), doc["note"]
    assert not sb.recorder.events("server-error")


def test_every_evidence_pack_lists_who_held_data_before_step_1(
    make_sandbox, tmp_path: Path, monkeypatch
) -> None:
    sb = _tenant(make_sandbox)
    owners = _licensed(sb)
    token = sb.issue_token()
    run = ["run", "--headless", "--yes", "--no-wait", *target_args(sb, tmp_path)]
    # Step 0 (the run's plan) notes the list beside the inventory's backup; step 1 then
    # deletes the users, and Graph lists none of them any more.
    r = run_cli(run, monkeypatch=monkeypatch, token=token)
    assert r.code in (0, 3), r.text
    assert not owners - {sb.admin_upn} & {u.user_principal_name for u in sb.tenant.users.values()}

    def pack(*extra: str) -> Path:
        out = tmp_path / f"pack{len(extra)}"
        argv = ["export", "--out", str(out), *extra, *target_args(sb, tmp_path)]
        e = run_cli(argv, monkeypatch=monkeypatch, token=token)
        assert e.code == 0, e.text
        return out

    for out in (pack(), pack("--offline", "--tenant", sb.tenant_id)):
        with (out / "data-owners-before.csv").open(encoding="utf-8") as fh:
            listed = {row["userPrincipalName"] for row in csv.DictReader(fh)}
        assert listed == owners
        assert "data-owners-before.csv" in (out / "SHA256SUMS").read_text()
