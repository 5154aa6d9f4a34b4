"""Lists are read once per object even when Graph's pages overlap (issue 9, item 12): counts
are not doubled and no object is sent two DELETEs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli_harness import (
    FAST,
    delete_requests,
    pack_path,
    read_outcomes_csv,
    run_cli,
    run_no_wait,
    target_args,
)


def test_overlapping_pages_list_each_user_once_and_delete_each_once(
    make_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1,100 users come in two pages of 999; every page after the first repeats 40 users.
    sb = make_sandbox(users=1100, seed=41, synced_fraction=0, time_scale=FAST)
    overlap = sb.add_fault(method="GET", path=r"/v1\.0/users$", overlap=40, times=-1)
    plan = run_cli(
        ["plan", "--json", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert plan.code == 0, plan.text
    assert overlap.hits > 0, "the overlap never happened"
    step_1 = json.loads(plan.out)["steps"]["1"]
    deletes = [a["object_id"] for a in step_1 if a["action"] == "delete-user"]
    assert len(deletes) == len(set(deletes)) == 1099

    r = run_no_wait(sb, tmp_path, monkeypatch)
    assert r.code == 3, r.text
    confirmed = [o["message"] for o in r.json_lines() if o["event"] == "confirmed"]
    assert confirmed[0].startswith("Delete 1,099 users?"), confirmed
    assert [u.id for u in sb.tenant.users.values()] == [sb.admin_id]
    counts = delete_requests(sb)
    assert len(counts) == 1099 and set(counts.values()) == {1}
    rows = read_outcomes_csv(pack_path(r))
    assert len(rows) == 1099 and {row["result"] for row in rows} == {"done"}
    before = json.loads((pack_path(r) / "inventory-before.json").read_text(encoding="utf-8"))
    assert len(before["users"]) == len({u["id"] for u in before["users"]}) == 1100
