"""Deleted users by the UPN they had: Graph lists a user in the recycle bin with its object id
(without dashes) before its userPrincipalName, and closeout shows the name as it was in the
plan, the status, the evidence pack and the TUI, because it restores it where the recycle bin
is read."""

from __future__ import annotations

import json

import pytest

from services.inventory.reads import upn_before_deletion
from tests.support.cli_harness import FAST, run_cli, target_args


def test_the_recycle_bins_prefix_is_taken_off_and_nothing_else() -> None:
    oid = "2c5f44d7-20db-49c4-8761-e88346dfba81"
    assert upn_before_deletion(oid, "2c5f44d720db49c48761e88346dfba81ada@x.test") == "ada@x.test"
    assert upn_before_deletion(oid, "2C5F44D720DB49C48761E88346DFBA81ada@x.test") == "ada@x.test"
    # Not prefixed (Graph may change its form; a replica may not prefix): left as it is.
    assert upn_before_deletion(oid, "ada@x.test") == "ada@x.test"
    assert upn_before_deletion(oid, "2c5f44d7ada@x.test") == "2c5f44d7ada@x.test"
    assert upn_before_deletion("", "ada@x.test") == "ada@x.test"


@pytest.fixture
def tenant(make_sandbox):
    return make_sandbox(users=12, seed=9, synced_fraction=0, deleted_users=3, time_scale=FAST)


def _binned(sb) -> dict[str, str]:
    """Object id → (the recycle bin's UPN, the UPN as it was) of each user in the bin."""
    out = {}
    for user in sb.tenant.deleted_users.values():
        prefix = user.id.replace("-", "")
        assert user.user_principal_name.startswith(prefix)  # the sandbox lists as Graph does
        out[user.id] = (user.user_principal_name, user.user_principal_name[len(prefix) :])
    return out


def _cli(sb, tmp_path, monkeypatch, *argv: str):
    r = run_cli(
        [*argv, *target_args(sb, tmp_path)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert r.code in (0, 2, 4), r.text
    return r


def test_plan_status_and_evidence_name_deleted_users_as_they_were(tenant, tmp_path, monkeypatch):
    binned = _binned(tenant)
    assert len(binned) == 3

    text = _cli(tenant, tmp_path, monkeypatch, "plan").out
    for raw, upn in binned.values():
        assert f"    {upn}\n" in text
        assert raw not in text

    steps = json.loads(_cli(tenant, tmp_path, monkeypatch, "plan", "--json").out)["steps"]
    purged = {a["object_id"]: a["label"] for a in steps["5"] if a["action"] == "purge-user"}
    assert {oid: purged[oid] for oid in binned} == {oid: upn for oid, (_r, upn) in binned.items()}

    out = tmp_path / "pack"
    _cli(tenant, tmp_path, monkeypatch, "export", "--out", str(out))
    every_file = "".join(p.read_text() for p in out.rglob("*") if p.is_file())
    assert not any(raw in every_file for raw, _upn in binned.values())
    before = json.loads((out / "inventory-before.json").read_text())
    names = {d["id"]: d["userPrincipalName"] for d in before["deletedUsers"]}
    assert names == {oid: upn for oid, (_r, upn) in binned.items()}
