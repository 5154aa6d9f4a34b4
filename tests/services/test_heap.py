"""Big loads are kept out of the cyclic garbage collector's full passes (services/heap.py):
after the engine reads a tenant of thousands of users, its rows are frozen, so a full
collection no longer walks them; small loads (a long wait's polls) freeze nothing."""

from __future__ import annotations

import gc
import sys
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from services.heap import FREEZE_FROM, settle_after_load
from services.models import UserRow


@pytest.fixture
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the suite's heap is not ours to freeze


def tracked_users() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, UserRow))


def test_small_loads_freeze_nothing(thawed: None) -> None:
    assert not settle_after_load(FREEZE_FROM - 1)
    assert gc.get_freeze_count() == 0


def test_garbage_waiting_in_the_oldest_generation_is_collected_not_frozen(thawed: None) -> None:
    # A cycle that became garbage after reaching the oldest generation (a strip that caches
    # itself, a screen gone): frozen with the live objects, it would never be freed.
    class Node:
        pass

    node = Node()
    node.self = node  # type: ignore[attr-defined]
    ref = weakref.ref(node)
    gc.collect()  # it survives a full collection: in the oldest generation now
    del node
    assert settle_after_load(FREEZE_FROM)
    assert ref() is None


def test_a_big_tenant_read_is_frozen_and_still_freed_when_replaced(
    make_sandbox: Any, connect: Any, thawed: None
) -> None:
    sb = make_sandbox(users=FREEZE_FROM + 1, admin_count=1)
    engine = connect(sb)
    inv = engine.refresh()
    assert inv is not None and len(inv.users) > FREEZE_FROM
    assert gc.get_freeze_count() > len(inv.users)
    assert tracked_users() == 0  # out of the collector's walk
    one = inv.users[-1]
    del inv
    engine.refresh()
    # The next read replaced the frozen rows: nothing but this test holds one of them now,
    # so they are freed by reference counting, not kept by the freeze.
    assert engine.inventory is not None
    assert all(u is not one for u in engine.inventory.users)
    assert sys.getrefcount(one) == 2  # the local name and the call's argument


def test_a_bulk_step_freezes_its_items_and_its_results_as_they_pile_up(
    make_sandbox: Any, connect: Any, thawed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import services.heap
    from services.models import StepId
    from services.steps import base

    # 120 users with a threshold of 50 stand for 100,000 with 5,000.
    monkeypatch.setattr(services.heap, "FREEZE_FROM", 50)
    monkeypatch.setattr(base, "FREEZE_FROM", 50)
    calls: list[tuple[int, bool]] = []

    def counted(rows: int) -> bool:
        froze = settle_after_load(rows)
        calls.append((rows, froze))
        return froze

    monkeypatch.setattr(base, "settle_after_load", counted)
    sb = make_sandbox(users=121, admin_count=0, synced_fraction=0, deleted_users=0)
    engine = connect(sb)
    engine.refresh()
    engine.ensure_plan()
    engine.begin("test", {})
    engine.run_step(StepId.DELETE_USERS)
    assert len(sb.tenant.users) == 1
    # Once for the 120 items, then after every 50 results: twice.
    assert calls == [(120, True), (50, True), (50, True)]
