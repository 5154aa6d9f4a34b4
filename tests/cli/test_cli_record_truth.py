"""The record must be true (issue 9, items 10–12), through the CLI against the sandbox.

- ``$batch`` answers that cannot be matched to their requests (ids not asked, answered twice,
  or missing) never make an object ``done``: a fresh read decides.
- A damaged journal line is named (how many, where) by status, run, export and the evidence
  pack; a journal recording another tenant is refused; one from before run-start lines named
  the tenant is still read.
- The deletion of the tenant seen at sign-in is journalled, so ``export --offline`` says so.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from services.journal.writer import Journal
from services.sandbox import Sandbox
from tests.support.cli_harness import (
    FAST,
    delete_requests,
    export_pack,
    graph_writes,
    journal_records,
    pack_path,
    read_outcomes_csv,
    run_cli,
    run_no_wait,
    target_args,
)

# -- item 12: $batch answers that cannot be matched ----------------------------------------------


@pytest.mark.parametrize("spoil", ["foreign", "duplicate", "missing"])
def test_batch_answers_that_cannot_be_matched_never_make_an_object_done(
    make_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spoil: str
) -> None:
    # 15 users: all 14 deletions go in one batch, and one of them Graph refuses.
    sb = make_sandbox(users=15, seed=42, synced_fraction=0, time_scale=FAST)
    refused = next(
        u for u in sb.tenant.users.values() if u.id != sb.admin_id and not sb.tenant.roles_of(u.id)
    )
    sb.add_fault(method="DELETE", path=f"/users/{refused.id}$", status=403, times=-1)
    sb.add_fault(method="POST", path=r"/v1\.0/\$batch$", batch_ids=spoil, times=1)
    r = run_no_wait(sb, tmp_path, monkeypatch)
    assert r.code == 4, r.text  # the refused user is listed as failed
    assert [u.id for u in sb.tenant.users.values()] == [sb.admin_id, refused.id] or {
        u.id for u in sb.tenant.users.values()
    } == {sb.admin_id, refused.id}

    records = journal_records(sb, tmp_path)
    outcomes = [rec for rec in records if rec["kind"] == "outcome"]
    mine = [rec["result"] for rec in outcomes if rec["object"] == refused.id]
    # Never recorded done (or gone) for the user a fresh read still shows.
    assert "done" not in mine and "gone" not in mine and mine[-1] == "failed", mine
    unknown = {rec["object"] for rec in outcomes if rec["result"] == "unknown"}
    assert len(unknown) == (1 if spoil == "missing" else 14)
    for uid in unknown - {refused.id}:
        # Settled by a fresh read, not by the answer that could not be trusted.
        assert [o["result"] for o in outcomes if o["object"] == uid] == ["unknown", "gone"]
    # Every deleted user: one DELETE. The refused one: a second only after a read showed it.
    counts = delete_requests(sb)
    assert all(n == 1 for uid, n in counts.items() if uid != refused.id)
    assert counts[refused.id] == (2 if refused.id in unknown else 1)
    rows = {row["object_id"]: row for row in read_outcomes_csv(pack_path(r))}
    assert len(rows) == 14 and rows[refused.id]["result"] == "failed"


# -- item 11: damaged lines and another tenant's journal -----------------------------------------


@pytest.fixture
def small(make_sandbox: Any) -> Sandbox:
    return make_sandbox(users=30, seed=43, synced_fraction=0, time_scale=FAST)


def damage(path: Path, *line_numbers: int) -> None:
    lines = path.read_bytes().split(b"\n")
    for n in line_numbers:
        lines[n - 1] = lines[n - 1][: len(lines[n - 1]) // 2]  # a half-written record
    path.write_bytes(b"\n".join(lines))


def test_damaged_journal_lines_are_named_by_status_run_export_and_the_evidence(
    small: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = small
    assert run_no_wait(sb, tmp_path, monkeypatch).code == 3
    journal = Journal(sb.tenant_id, root=tmp_path)
    numbered = list(enumerate(journal.path.read_text(encoding="utf-8").splitlines(), 1))
    outcome_lines = [n for n, text in numbered if '"kind":"outcome"' in text]
    damaged = outcome_lines[3:6]
    damage(journal.path, *damaged)
    where = ", ".join(str(n) for n in damaged)

    status = run_cli(
        ["status", *target_args(sb, tmp_path)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert status.code == 3, status.text
    warning = [line for line in status.err.splitlines() if "damaged" in line]
    assert len(warning) == 1 and "3 damaged lines" in warning[0] and f"line {where}" in warning[0]
    assert str(journal.path) in warning[0]

    again = run_no_wait(sb, tmp_path, monkeypatch)
    notes = [o for o in again.json_lines() if o["event"] == "note" and o["level"] == "warning"]
    assert any("3 damaged lines" in o["message"] and where in o["message"] for o in notes)
    summary = json.loads((pack_path(again) / "summary.json").read_text(encoding="utf-8"))
    assert summary["summary"]["journal"]["damagedLines"] == 3
    assert summary["summary"]["journal"]["damagedAt"] == damaged
    assert any("3 damaged lines" in w for w in summary["warnings"])

    out = tmp_path / "export"
    export = export_pack(sb, tmp_path, out, monkeypatch=monkeypatch)
    assert export.code == 0, export.text
    assert "3 damaged lines" in export.err
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "## Warnings" in md and "3 damaged lines" in md and where in md


def test_a_journal_of_another_tenant_is_refused_and_nothing_is_done(
    make_sandbox: Any, small: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = make_sandbox(users=12, seed=44, synced_fraction=0, time_scale=FAST)
    assert run_no_wait(other, tmp_path, monkeypatch).code == 3
    # Our tenant has a saved plan (and no journal of its own); the other's journal is copied in.
    plan = run_cli(
        ["plan", *target_args(small, tmp_path)], monkeypatch=monkeypatch, token=small.issue_token()
    )
    assert plan.code == 0, plan.text
    ours = Journal(small.tenant_id, root=tmp_path)
    assert not ours.path.exists()
    shutil.copy(Journal(other.tenant_id, root=tmp_path).path, ours.path)
    copied = ours.path.read_bytes()

    for argv in (
        ["run", "--headless", "--yes", "--no-wait", "--json"],
        ["status"],
        ["export", "--out", str(tmp_path / "pack")],
    ):
        r = run_cli(
            [*argv, *target_args(small, tmp_path)],
            monkeypatch=monkeypatch,
            token=small.issue_token(),
        )
        assert r.code == 2, (argv, r.text)
        assert other.tenant_id in r.err and small.tenant_id in r.err
        assert "refusing" in r.err and "Traceback" not in r.text
    assert graph_writes(small) == []
    assert ours.path.read_bytes() == copied  # not resumed, not appended to
    assert not (tmp_path / "pack").exists()

    offline = run_cli(
        ["export", "--offline", "--tenant", small.tenant_id, "--state-dir", str(tmp_path)],
        monkeypatch=monkeypatch,
        token="",
    )
    assert offline.code == 2 and other.tenant_id in offline.err


def test_a_journal_from_before_run_starts_named_the_tenant_is_still_resumed(
    small: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = small
    assert run_no_wait(sb, tmp_path, monkeypatch).code == 3
    journal = Journal(sb.tenant_id, root=tmp_path)
    old = []
    for line in journal.path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["kind"] == "run-start":
            assert record.pop("tenant") == sb.tenant_id
        old.append(json.dumps(record))
    journal.path.write_text("\n".join(old) + "\n", encoding="utf-8")
    status = run_cli(
        ["status", *target_args(sb, tmp_path)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert status.code == 3, status.text
    assert run_no_wait(sb, tmp_path, monkeypatch).code == 3
    starts = [r for r in journal_records(sb, tmp_path) if r["kind"] == "run-start"]
    assert "tenant" not in starts[0] and starts[-1]["tenant"] == sb.tenant_id


# -- item 10: the deletion seen at sign-in is journalled ------------------------------------------


def test_a_deletion_seen_at_sign_in_is_journalled_and_exported_offline(
    small: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = small
    assert run_no_wait(sb, tmp_path, monkeypatch).code == 3
    # The admin selected "Delete tenant" in the portal (the sandbox's own effect of it).
    with sb.lock:
        sb.tenant.deleted = True
        sb.tokens.tenant_deleted = True
    gone = run_no_wait(sb, tmp_path, monkeypatch)
    assert gone.code == 0, gone.text
    assert "no longer exists" in gone.err
    (record,) = [r for r in journal_records(sb, tmp_path) if r["kind"] == "tenant-gone"]
    assert record["detected"] == "sign-in" and record["tenant"] == sb.tenant_id

    out = tmp_path / "offline"
    offline = run_cli(
        ["export", "--offline", "--tenant", sb.tenant_id, "--state-dir", str(tmp_path),
         "--out", str(out)],
        monkeypatch=monkeypatch,
        token="",
    )  # fmt: skip
    assert offline.code == 0, offline.text
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))["summary"]
    assert summary["tenantDeleted"] is True
    assert summary["tenantDeletion"]["detected"] == "sign-in"
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "| Tenant deleted | yes: detected at sign-in" in md
    # A read-only look records nothing, even this.
    status = run_cli(
        ["status", *target_args(sb, tmp_path)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert status.code == 0, status.text
    assert len([r for r in journal_records(sb, tmp_path) if r["kind"] == "tenant-gone"]) == 1
