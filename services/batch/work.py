"""The batch executor's bookkeeping while a run is going: each item's attempts and last answer
(:class:`_Work`) and the shared state of one run (:class:`_Run`): its queue, results, in-flight
count, abort and outage.
"""

from __future__ import annotations

import heapq
import threading
from dataclasses import dataclass, field

from .items import BatchItem, ItemResult


@dataclass(eq=False, slots=True)
class _Work:
    """Mutable bookkeeping for one item while the run is going."""

    index: int
    item: BatchItem
    attempts: int = 0
    throttled: int = 0
    ready_at: float = 0.0
    status: int | None = None
    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    journalled: bool = False
    """Its intent was recorded (``on_before_send``): its end needs an outcome of its own."""

    @property
    def faults(self) -> int:
        return self.attempts - self.throttled


@dataclass(eq=False)
class _Run:
    """State of one :meth:`BatchExecutor.run`, guarded by ``cond``.

    An item gets its :class:`_Work` when it is first taken, and loses it when it is final: a
    run of 100,000 items holds bookkeeping for those in flight or waiting for a retry, not a
    record and a queue entry for each (~20 MB at 100,000 users)."""

    items: list[BatchItem]
    cond: threading.Condition = field(default_factory=threading.Condition)
    works: dict[int, _Work] = field(default_factory=dict)
    """The items taken and not final yet, by index."""
    fresh: int = 0
    """Items from this index on were never taken; they queue as if at ``(0.0, index)``."""
    heap: list[tuple[float, int]] = field(default_factory=list)
    """Items taken and put back (to retry, or unsent): ``(ready_at, index)``."""
    results: list[ItemResult | None] = field(default_factory=list)
    in_flight: int = 0
    error: BaseException | None = None
    outage_since: float | None = None
    """When POSTs started failing without leaving (refused): Graph is out of reach."""
    outage_tries: int = 0
    retry_at: float = 0.0
    """While out of reach: no batch goes out before this; then one at a time (a probe)."""

    @property
    def aborted(self) -> bool:
        return self.error is not None

    def head(self) -> tuple[float, int] | None:
        """The next entry in the queue: the earliest of the put-back ones and the fresh ones."""
        fresh = (0.0, self.fresh) if self.fresh < len(self.items) else None
        if not self.heap:
            return fresh
        return self.heap[0] if fresh is None or self.heap[0] < fresh else fresh

    def pop(self) -> _Work:
        """Take the head entry (see :meth:`head`) off the queue."""
        fresh = (0.0, self.fresh) if self.fresh < len(self.items) else None
        if self.heap and (fresh is None or self.heap[0] < fresh):
            return self.works[heapq.heappop(self.heap)[1]]
        index = self.fresh
        self.fresh += 1
        work = self.works[index] = _Work(index, self.items[index])
        return work

    def final(self, work: _Work, result: ItemResult) -> None:
        self.results[work.index] = result
        self.works.pop(work.index, None)


def _split_writes(batch: list[_Work], writes: int) -> tuple[list[_Work], list[_Work]]:
    """``batch`` cut to its reads plus its first ``writes`` writes, and the remainder."""
    keep: list[_Work] = []
    rest: list[_Work] = []
    for work in batch:
        if work.item.is_write:
            (keep if writes > 0 else rest).append(work)
            writes -= 1
        else:
            keep.append(work)
    return keep, rest


def _never_sent(work: _Work) -> bool:
    """Never went out and never journalled: nothing of it is anywhere but in the plan."""
    return work.attempts == 0 and not work.journalled
