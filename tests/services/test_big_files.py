"""The files that grow with the tenant (saved plan, inventory backup, evidence pack) are written
and read in pieces: what comes back is what went in, in every layout closeout ever wrote, and
the plan's digest is computed once and is the hash it always was."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.evidence.rows import LatestOutcomes, outcomes_from_journal
from services.evidence.write import write_pack
from services.inventory.model import Inventory
from services.journal.writer import Journal
from services.json_text import chunks, read_member
from services.models import StepId, SubscriptionRow, UserRow
from services.plan import model as plan_module
from services.plan.model import KeptAccount, Plan, PlannedAction
from tests.support.cli_harness import run_cli, target_args
from tests.support.tenant import TENANT, TENANT_ID


@pytest.fixture(autouse=True)
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


def a_plan(n: int = 300) -> Plan:
    actions = [
        PlannedAction(StepId.DELETE_USERS, "delete-user", f"u{i}", f"user{i}@contoso.se", "guest")
        for i in range(n)
    ]
    actions += [
        PlannedAction(
            StepId.CANCEL_SUBSCRIPTIONS,
            "cancel-subscription",
            "s1",
            "Microsoft 365 E3 (SPE_E3)",
            kind="handoff",
            sku_id="05e9a617-0261-4cee-bb44-138d3ef5d965",
            sku_part_number="SPE_E3",
            product_name="Microsoft 365 E3",
        ),
        PlannedAction(
            StepId.DELETE_DIRECTORY, "purge-user", "u1", "Åsa \\x1b Öberg", "after step 1"
        ),
        PlannedAction(StepId.DELETE_DIRECTORY, "delete-tenant", TENANT_ID, "x", kind="handoff"),
    ]
    return Plan(
        tenant=TENANT,
        created_at=datetime(2025, 3, 1, 10, 0, tzinfo=UTC),
        keep=(KeptAccount(TENANT.signed_in_id or "", TENANT.signed_in_upn or "", "me"),),
        actions=tuple(actions),
        warnings=("a warning",),
        data_holders=3,
        own_app={"appIds": ["x"], "handling": "absent", "objects": []},
    )


def test_a_plan_written_in_pieces_reads_back_as_the_same_plan() -> None:
    plan = a_plan()
    text = "".join(plan.json_chunks())
    assert json.loads(text) == json.loads(json.dumps(plan.to_dict(), default=str))
    assert Plan.from_json(text.encode()) == plan
    # Every plan an earlier closeout saved (json.dumps with indent=2) still reads back.
    assert Plan.from_json(json.dumps(plan.to_dict(), indent=2).encode()) == plan
    # One action per line: a 200,000-action plan is written a line at a time.
    assert sum(1 for line in text.splitlines() if '"object_id"' in line) == len(plan.actions)


def test_the_digest_is_the_documented_hash_and_is_computed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = a_plan()
    whole = json.dumps([asdict(a) for a in plan.actions], sort_keys=True, default=str)
    calls = []
    real = plan_module._digest
    monkeypatch.setattr(plan_module, "_digest", lambda actions: calls.append(1) or real(actions))
    assert plan.digest() == hashlib.sha256(whole.encode()).hexdigest()[:16]
    assert plan.digest() == plan.digest()
    assert len(calls) == 1


def test_a_run_computes_its_plan_digest_once(
    make_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = make_sandbox(users=40, synced_fraction=0)
    calls = []
    real = plan_module._digest
    monkeypatch.setattr(plan_module, "_digest", lambda actions: calls.append(1) or real(actions))
    r = run_cli(
        ["run", "--headless", "--yes", "--no-wait", "--json", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 3, r.text
    digests = {line["digest"] for line in r.json_lines() if line.get("event") == "plan"}
    assert len(digests) == 1
    assert len(calls) == 1


def test_the_inventory_backup_reads_back_whole_and_by_member(tmp_path: Path) -> None:
    inv = Inventory(tenant=TENANT, taken_at=datetime(2025, 3, 1, tzinfo=UTC))
    inv.users = [
        UserRow(f"u{i}", f"user{i}@contoso.se", f"Användare {i}", "Member", True, False, ("E3",))
        for i in range(50)
    ]
    inv.subscriptions = [
        SubscriptionRow("s1", "SPE_E3", "Enabled", False, 25, None, None, "05e9a617")
    ]
    inv.roles = {"62e90394-69f5-4237-9190-012177145e10": ["u1"]}
    text = "".join(inv.json_chunks())
    assert json.loads(text) == json.loads(json.dumps(inv.to_json()))
    new, old = tmp_path / "new.json", tmp_path / "old.json"
    new.write_text(text, encoding="utf-8")
    old.write_text(json.dumps(inv.to_json(), indent=2), encoding="utf-8")
    for path in (new, old):
        assert read_member(path, "subscriptions") == inv.to_json()["subscriptions"]
        assert read_member(path, "tenant") == asdict(TENANT)
        assert read_member(path, "deletedUsers") == []
        assert read_member(path, "nothing") is None
    # Any other layout is read whole.
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps(inv.to_json()), encoding="utf-8")
    assert read_member(flat, "subscriptions") == inv.to_json()["subscriptions"]
    assert "".join(chunks([("a", []), ("b", (x for x in [1, 2]))])) == (
        '{\n  "a": [],\n  "b": [\n    1,\n    2\n  ]\n}\n'
    )


def _journal_of_two_runs(j: Journal, n: int) -> tuple[str, str]:
    first = j.start_run("run")
    j.write_intents(
        [
            {"step": 1, "action": "delete-user", "object": f"u{i}", "label": f"l{i}"}
            for i in range(n)
        ]
    )
    j.write_outcomes(
        [
            {"step": 1, "action": "delete-user", "object": f"u{i}", "result": "failed"}
            for i in range(n)
        ]
    )
    j.end_run(first, 4)
    second = j.start_run("run")
    j.write_intents(
        [{"step": 1, "action": "delete-user", "object": f"u{i}"} for i in range(0, n, 2)]
    )
    j.write_outcomes(
        [
            {"step": 1, "action": "delete-user", "object": f"u{i}", "result": "done"}
            for i in range(0, n, 2)
        ]
    )
    return first, second


def test_latest_outcomes_by_position_equal_the_whole_journal_read(tmp_path: Path) -> None:
    with Journal(TENANT_ID) as j:
        first, second = _journal_of_two_runs(j, 40)
        for run in (None, first, second):
            whole = outcomes_from_journal(j.iter_records(), run_id=run)
            latest = LatestOutcomes(j, run_id=run)
            assert list(latest.rows()) == whole
            assert len(latest) == len(whole)
        assert LatestOutcomes(j).counts() == {"done": 20, "failed": 20}
        whole = outcomes_from_journal(j.iter_records())
        pack = write_pack(
            tmp_path / "pack",
            tenant=TENANT,
            inventory={"users": []},
            outcomes=LatestOutcomes(j).rows(),
            summary={},
            run_id="r1",
        )
    rows = json.loads((pack / "outcomes.json").read_text(encoding="utf-8"))
    assert [r["object_id"] for r in rows] == [r["object_id"] for r in whole]
    assert {r["attempts"] for r in rows if r["result"] == "done"} == {2}
    summary = json.loads((pack / "summary.json").read_text(encoding="utf-8"))
    assert summary["objects"] == 40 and len(summary["failures"]) == 20


def test_a_pack_copies_the_backup_file_line_by_line(tmp_path: Path) -> None:
    backup = tmp_path / "inventory-before.json"
    backup.write_text('{\n  "users": [\n    {"upn": "åsa@x.se"}\n  ]\n}\n', encoding="utf-8")
    pack = write_pack(
        tmp_path / "pack", tenant=TENANT, inventory=backup, outcomes=[], summary={}, run_id="r1"
    )
    assert (pack / "inventory-before.json").read_bytes() == backup.read_bytes()
    # A token anywhere in it refuses the whole pack.
    jwt = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl"
    backup.write_text(f'{{\n  "users": [\n    {{"upn": "{jwt}"}}\n  ]\n}}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="token"):
        write_pack(
            tmp_path / "pack2",
            tenant=TENANT,
            inventory=backup,
            outcomes=[],
            summary={},
            run_id="r1",
        )
    assert not (tmp_path / "pack2").exists()
