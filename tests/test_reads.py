"""What closeout reads: each list once where once suffices, role members in one read where
Graph allows it, and never less than a safe run needs (a fresh read after its writes)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from services.graph import GraphClient
from services.inventory import EXPAND_CAP, read_roles
from services.models import GLOBAL_ADMIN
from tests.test_batch_executor import Tokens


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
    members, _names = read_roles(GraphClient(sb.base_url, Tokens(sb)))
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
