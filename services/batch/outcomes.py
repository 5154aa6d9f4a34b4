"""How the batch executor times retries and records outcomes: jittered backoff, settling a
POST's items (final or requeued), the final sweep's ``skipped`` results, and reporting results
to the callbacks, where a failing callback aborts the run.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from services.control import RunControl
from services.graph.client import GraphClient
from services.pacing import WritePacer

from .items import ItemResult, Outcome
from .work import _Run, _Work

log = logging.getLogger("closeout.batch")


class _Outcomes:
    """The part of :class:`~.executor.BatchExecutor` that times retries and reports outcomes.

    The settings are set by the executor's constructor.
    """

    client: GraphClient
    control: RunControl
    pacer: WritePacer | None
    max_attempts: int
    max_throttle_retries: int
    on_result: Callable[[ItemResult], None] | None
    on_results: Callable[[list[ItemResult]], None] | None
    backoff_base: float
    backoff_cap: float
    _rng: random.Random
    _rng_lock: threading.Lock

    def _jitter(self) -> float:
        with self._rng_lock:
            return self._rng.random()

    def _backoff(self, faults: int, jitter: float) -> float:
        delay = min(self.backoff_cap, self.backoff_base * 2 ** max(0, faults - 1))
        # "Equal jitter": at least half the exponential delay, so retries really back off.
        return delay * (0.5 + 0.5 * jitter)

    def _settle(self, st: _Run, batch: list[_Work], finals: list[ItemResult | None]) -> None:
        """Record final results, requeue the rest, then report outside the lock."""
        done: list[ItemResult] = []
        with st.cond:
            for work, final in zip(batch, finals, strict=True):
                if final is None:
                    heapq.heappush(st.heap, (work.ready_at, work.index))
                else:
                    st.final(work, final)
                    done.append(final)
            st.in_flight -= len(batch)
            st.cond.notify_all()
        self._report(st, done)

    def _skipped(self, st: _Run, work: _Work) -> ItemResult:
        """Final sweep after the workers ended: whatever is unfinished is skipped."""
        if work.attempts:
            message = f"not finished: the run stopped before a retry (last: {work.message})"
            code = work.code or "Stopped"
        else:
            message = "not sent: the run stopped first"
            code = "NotSent"
        result = ItemResult(
            item=work.item,
            outcome=Outcome.skipped,
            status=work.status,
            code=code,
            message=message,
            request_id=work.request_id,
            attempts=work.attempts,
            finished_at=datetime.now(UTC),
        )
        with st.cond:
            st.final(work, result)
        return result

    def _report(self, st: _Run, results: list[ItemResult]) -> None:
        if self.on_results is not None and results:
            self._callback(st, "on_results", self.on_results, results)
        if self.on_result is not None:
            for result in results:
                self._callback(st, "on_result", self.on_result, result)

    def _callback(self, st: _Run, name: str, callback: Callable[[Any], None], arg: Any) -> None:
        try:
            callback(arg)
        except BaseException as exc:
            # Log the first failure in full; after that the run is aborting anyway.
            if st.error is None:
                log.exception("%s callback failed", name)
            else:
                log.debug("%s callback failed again: %s", name, exc)
            self._abort(st, exc)

    def _abort(self, st: _Run, exc: BaseException) -> None:
        with st.cond:
            if st.error is None:
                st.error = exc
            st.cond.notify_all()
