"""What a bulk step holds per object (issue 10: 100,000 users within 250 MB).

Memory itself is measured by ``scripts/bench_memory.py``; these pin the shapes that keep it
down, which a change could undo without any behaviour changing: the per-item objects of the
batch executor carry no instance dict, the executor keeps bookkeeping only for the items in
flight or waiting for a retry, and step 1's own read of the users holds the
inventory's rows, not a second row per user.
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
from services.graph import GraphClient
from tests.test_batch_executor import Tokens, delete, user_ids


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
    client = GraphClient(sb.base_url, Tokens(sb))
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
