"""``--read-only`` records nothing a later real run would trust (issue 9, item 4).

A read-only run may read, plan and show; it writes no manual-check attestation, no plan, no
confirmation, no outcome and no step line: the tenant's folder is byte-for-byte what it was,
and a real run afterwards still asks for everything it asked for before.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.journal.writer import Journal
from tests.support.cli_harness import FAST, export_pack, graph_writes, run_cli, target_args


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (recursively) and its exact content."""
    if not folder.exists():
        return {}
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def ready_for_step5(make_sandbox):
    # No subscriptions: a real run gets to step 5 at once, where it asks for the manual checks.
    return make_sandbox(users=12, seed=3, synced_fraction=0, subscriptions="none", time_scale=FAST)


def _argv(sb, state: Path, *extra: str) -> list[str]:
    return [
        "run",
        "--headless",
        "--yes",
        "--json",
        "--confirm-domain",
        sb.initial_domain,
        *extra,
        *target_args(sb, state),
    ]


def _asks_for_all_manual_checks(result) -> bool:
    waiting = [o["message"] for o in result.json_lines() if o["event"] == "waiting"]
    return any("--confirm-manual invoices,self-service,azure" in w for w in waiting)


@pytest.mark.timeout(90)
def test_read_only_confirm_manual_all_leaves_the_tenant_folder_as_it_was(
    ready_for_step5, tmp_path, monkeypatch
):
    sb = ready_for_step5
    state = tmp_path / "state"
    folder = state / "tenants" / sb.tenant_id

    first = run_cli(_argv(sb, state), monkeypatch=monkeypatch, token=sb.issue_token())
    assert first.code == 3, first.text
    assert _asks_for_all_manual_checks(first), first.out
    before = folder_bytes(folder)
    assert "journal.jsonl" in before and "plan.json" in before
    writes = len(graph_writes(sb))

    ro = run_cli(
        _argv(sb, state, "--read-only", "--confirm-manual", "all"),
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert ro.code == 3, ro.text
    assert len(graph_writes(sb)) == writes
    # Byte for byte: no tick, no run-start or step line, no plan, no evidence pack.
    assert folder_bytes(folder) == before
    # Said, so that nobody believes the checks were recorded.
    notes = [o["message"] for o in ro.json_lines() if o["event"] == "note"]
    assert any("not recorded" in n for n in notes), notes

    again = run_cli(_argv(sb, state), monkeypatch=monkeypatch, token=sb.issue_token())
    assert again.code == 3, again.text
    assert _asks_for_all_manual_checks(again), again.out
    assert len(sb.tenant.deleted_users) > 0  # the irreversible cleanup did not run


@pytest.mark.timeout(90)
def test_a_first_read_only_run_creates_no_tenant_folder(ready_for_step5, tmp_path, monkeypatch):
    sb = ready_for_step5
    state = tmp_path / "state"
    ro = run_cli(
        _argv(sb, state, "--read-only", "--confirm-manual", "all"),
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert ro.code == 3, ro.text
    assert graph_writes(sb) == []
    assert not (state / "tenants").exists(), folder_bytes(state)
    assert Journal(sb.tenant_id, root=state).records() == []

    # The plan shown by the read-only run was not saved: the real run makes (and shows) its own.
    real = run_cli(_argv(sb, state), monkeypatch=monkeypatch, token=sb.issue_token())
    assert real.code == 3, real.text
    assert _asks_for_all_manual_checks(real), real.out
    kinds = [r["kind"] for r in Journal(sb.tenant_id, root=state).records()]
    assert "tick" not in kinds and kinds.count("run-start") == 1  # the real run's own


def test_status_and_export_save_no_plan(ready_for_step5, tmp_path, monkeypatch):
    """Only ``closeout plan`` (which prints the whole plan) and a real run save one."""
    sb = ready_for_step5
    state = tmp_path / "state"
    folder = state / "tenants" / sb.tenant_id
    status = run_cli(
        ["status", *target_args(sb, state)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert status.code == 3, status.text
    assert not folder.exists()
    out = tmp_path / "pack"
    export = export_pack(sb, state, out, monkeypatch=monkeypatch)
    assert export.code == 0, export.text
    assert (out / "summary.json").exists()
    assert not (folder / "plan.json").exists()

    plan = run_cli(
        ["plan", *target_args(sb, state)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert plan.code == 0, plan.text
    assert (folder / "plan.json").exists()
    assert graph_writes(sb) == []
