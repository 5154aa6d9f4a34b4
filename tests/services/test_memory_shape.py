"""What a bulk step holds per object (issue 10: 100,000 users within 250 MB).

Memory itself is measured by ``scripts/bench_memory.py``; these pin the shapes that keep it
down, which a change could undo without any behaviour changing: the per-item objects of the
batch executor carry no instance dict, the executor keeps bookkeeping only for the items in
flight or waiting for a retry, and step 1's own read of the users holds the
inventory's rows, not a second row per user, and the users step 1 put in the recycle bin hold
the strings of the inventory that listed them.
"""

from __future__ import annotations

import gc
from datetime import UTC, datetime
from typing import Any

from services import endpoints
from services.batch.executor import BatchExecutor
from services.batch.items import BatchItem, ItemResult, Outcome
from services.batch.work import _Work
from services.control import RunControl
from services.graph.client import GraphClient
from services.inventory.reads import read_deleted_users, read_users
from services.steps import users as step_users
from tests.support.graph import SandboxTokens, delete, user_ids


def test_the_executors_per_item_objects_have_no_instance_dict() -> None:
    item = BatchItem.of(endpoints.USER_DELETE, "u1", action="delete-user", label="a@x")
    result = ItemResult(item, Outcome.done, 204, None, None, "r", 1, datetime.now(UTC))
    # An instance dict is ~100-200 bytes more per object: at 100,000 users, three such
    # objects per user were ~50 MB of the TUI's running peak.
    for obj in (item, result, _Work(0, item)):
        assert not hasattr(obj, "__dict__"), type(obj).__name__


def test_the_executor_keeps_bookkeeping_only_for_the_items_it_has_taken(
    make_sandbox: Any,
) -> None:
    sb = make_sandbox(users=130, seed=4, synced_fraction=0.0)
    client = GraphClient(sb.base_url, SandboxTokens(sb))
    items = [delete(uid) for uid in user_ids(client, sb)[:120]]
    live: list[int] = []

    def before_send(batch: list[BatchItem]) -> None:
        live.append(sum(1 for o in gc.get_objects() if isinstance(o, _Work)))

    ex = BatchExecutor(
        client, control=RunControl(), concurrency=1, batch_size=10, on_before_send=before_send
    )
    results = ex.run(items)
    assert [r.item.key for r in results] == [i.key for i in items]
    assert all(r.outcome == Outcome.done for r in results)
    # One worker, ten at a time: the batch being sent is all there is, never the 120.
    assert len(live) == 12 and max(live) <= 10, live


def test_a_second_listing_holds_the_rows_of_the_first_where_the_users_read_the_same(
    make_sandbox: Any,
) -> None:
    sb = make_sandbox(users=40, seed=5)
    client = GraphClient(sb.base_url, SandboxTokens(sb))
    first = read_users(client)
    renamed, synced = first[3].id, first[7].id
    sb.tenant.users.get(renamed).display_name = "Someone Else"
    sb.tenant.users.get(synced).synced = True
    again = read_users(client, known=first)
    by_id = {u.id: u for u in first}
    assert [u.id for u in again] == [u.id for u in first]
    for row in again:
        if row.id in (renamed, synced):
            assert row is not by_id[row.id]
        else:
            assert row is by_id[row.id]
    assert next(u for u in again if u.id == renamed).display_name == "Someone Else"
    assert next(u for u in again if u.id == synced).synced is True


def test_step_1_reads_the_users_into_the_inventorys_rows(make_sandbox: Any, connect: Any) -> None:
    sb = make_sandbox(users=40, seed=5)
    eng = connect(sb)
    eng.ensure_plan()
    ctx = eng.context()
    ctx.fresh_inventory = lambda: None  # as after the 30 s a read stays current
    before = sb.recorder.records()
    users = step_users.read_state(ctx).users
    assert any(r.path == "/v1.0/users" for r in sb.recorder.records()[len(before) :])
    inventory_rows = {id(u) for u in ctx.inventory.users}
    assert users and all(id(u) in inventory_rows for u in users)
    # The deletes are built in the plan's order, kept accounts and synced users left out.
    items = step_users.delete_items(ctx, users)
    planned = ctx.plan.user_delete_ids()
    assert [i.key for i in items] == [uid for uid in planned if uid in {i.key for i in items}]
    assert not {i.key for i in items} & ctx.kept_ids
    assert {i.label for i in items} <= {u.upn for u in users if not u.synced}


def test_users_read_in_the_recycle_bin_hold_the_strings_of_the_rows_that_listed_them(
    make_sandbox: Any,
) -> None:
    # After step 1 the recycle bin holds 100,000 users, read while the inventory that listed
    # them is still held: their ids, UPNs and names are that inventory's strings, not copies.
    sb = make_sandbox(users=40, seed=6, synced_fraction=0.0)
    client = GraphClient(sb.base_url, SandboxTokens(sb))
    listed = read_users(client)
    gone = [u for u in listed if u.id != sb.admin_id][:12]
    ex = BatchExecutor(client, control=RunControl(), concurrency=1)
    assert all(r.outcome == Outcome.done for r in ex.run([delete(u.id) for u in gone]))
    plain = read_deleted_users(client)
    shared = read_deleted_users(client, known=listed)
    assert shared == plain and len(shared) == len(gone)
    rows = {u.id: u for u in gone}
    for user in shared:
        row = rows[user["id"]]
        assert user["id"] is row.id
        assert user["userPrincipalName"] is row.upn
        assert user["displayName"] is row.display_name
