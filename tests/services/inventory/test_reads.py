"""What closeout reads: each list once where once suffices, role members in one read where
Graph allows it, and never less than a safe run needs (a fresh read after its writes)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from services.graph.client import GraphClient
from services.inventory.reads import EXPAND_CAP, read_roles
from services.models import GLOBAL_ADMIN
from tests.support.cli_harness import run_cli, target_args
from tests.support.graph import SandboxTokens


def role_reads(sb: Any) -> Counter[str]:
    return Counter(
        "list" if r.path == "/v1.0/directoryRoles" else "members"
        for r in sb.recorder.records()
        if r.method == "GET" and r.path.startswith("/v1.0/directoryRoles")
    )


def truth(sb: Any) -> dict[str, list[str]]:
    return {
        role.template_id: [u for u in role.members if u in sb.tenant.users]
        for role in sb.tenant.roles.values()
        if any(u in sb.tenant.users for u in role.members)
    }


@pytest.mark.parametrize(
    ("behaviour", "admins", "lists", "member_reads"),
    [
        ("role-expand-capped", 4, 1, 0),
        # 25 holders of each role: an expansion of 20 may be cut short, so each role is read.
        ("role-expand-capped", 100, 1, "big"),
        ("role-expand-ignored", 4, 1, "every"),
        ("role-expand-refused", 4, 2, "every"),
    ],
)
def test_role_members_come_in_one_read_unless_graph_may_have_cut_them_short(
    make_sandbox: Any, behaviour: str, admins: int, lists: int, member_reads: Any
) -> None:
    sb = make_sandbox(users=150, admin_count=admins, behaviours=behaviour)
    members, _names = read_roles(GraphClient(sb.base_url, SandboxTokens(sb)))
    assert {k: sorted(v) for k, v in members.items()} == {
        k: sorted(v) for k, v in truth(sb).items()
    }
    if admins > EXPAND_CAP:
        assert len(members[GLOBAL_ADMIN]) > EXPAND_CAP
    reads = role_reads(sb)
    assert reads["list"] == lists
    expected = {
        "every": len(sb.tenant.roles),
        "big": sum(1 for ids in truth(sb).values() if len(ids) >= EXPAND_CAP),
    }.get(member_reads, member_reads)
    assert reads["members"] == expected
    if member_reads == "big":
        assert 0 < expected < len(sb.tenant.roles)


def test_a_run_lists_the_users_once_before_its_writes_and_reads_them_after(
    make_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 2,500 users: three pages of 999. Every one is deleted within one write window.
    sb = make_sandbox(
        users=2501, synced_fraction=0, admin_count=0, deleted_users=0, manual_blockers=False
    )
    r = run_cli(
        ["run", "--headless", "--yes", "--no-wait", "--json", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 3, r.text
    assert len(sb.tenant.users) == 1  # everyone but the admin is gone
    pages = [
        (r.sim_time, r.status)
        for r in sb.recorder.records()
        if r.method == "GET" and r.path == "/v1.0/users"
    ]
    deletes = [r.sim_time for r in sb.recorder.writes() if r.method == "DELETE"]
    before = [t for t, _status in pages if t <= min(deletes)]
    after = [t for t, _status in pages if t >= max(deletes)]
    # One listing before (3 pages), not one per read of the run; and reads after the writes
    # (the step's own check, then the assessment), each a page now.
    assert len(before) == 3
    assert 1 <= len(after) <= 3
    assert len(pages) == len(before) + len(after)


def test_a_read_is_current_until_any_write_or_its_age_says_otherwise(
    make_sandbox: Any, connect: Any
) -> None:
    sb = make_sandbox(users=30, admin_count=1, synced_fraction=0)
    engine = connect(sb)
    inv = engine.refresh()
    assert inv is not None
    assert engine.fresh_inventory() is inv
    assert engine.fresh_inventory(within=0.0) is None  # older than asked for
    # A write sent any way at all, not only through a step's batches, makes it stale.
    victim = next(u for u in inv.users if not u.is_global_admin)
    engine.client.request("DELETE", f"/users/{victim.id}")
    assert engine.fresh_inventory() is None
    assert engine.refresh() is engine.fresh_inventory()
