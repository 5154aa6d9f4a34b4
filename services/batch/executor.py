"""The batch executor's workers: taking ready items a batch at a time, pacing writes to the
tenant's quota, journalling intents before a POST, sending it, and backing off while Graph is
out of reach. Pause and stop act between batches; a stop never leaves a sent request
unrecorded.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from services.control import RunControl, Waiting
from services.errors import LongWait, NetworkError, plain_reason
from services.graph.bounds import MAX_BATCH
from services.graph.client import GraphClient
from services.i18n import _
from services.pacing import Grant, WritePacer

from .items import BatchItem, ItemResult
from .judging import _Judgement, _Judging
from .work import _never_sent, _Run, _split_writes, _Work

__all__ = ["BatchExecutor"]

log = logging.getLogger("closeout.batch")

# Skipped items are reported in groups of this many (one journal write each) after a stop.
_REPORT_CHUNK = 500


class BatchExecutor(_Judging):
    """Runs :class:`BatchItem` lists through ``$batch`` with pacing, retries and stop.

    ``on_before_send(items)`` is called right before each POST with the items in it (the
    journal writes and fsyncs its intent lines there; if it raises, nothing is sent and the
    run aborts). ``on_result(result)`` is called exactly once per item when its outcome is
    final; ``on_results(results)`` gets the same results, once per group that became final
    together (a batch's, or a chunk of the final sweep), so that a journal can record them
    with one fsync instead of one per item. All are called from worker threads, possibly
    concurrently: they must be thread-safe. An exception from any, or an unexpected error,
    aborts the run: in-flight batches are still judged, the rest is reported skipped, then
    :meth:`run` re-raises it.
    """

    def __init__(
        self,
        client: GraphClient,
        *,
        control: RunControl,
        pacer: WritePacer | None = None,
        concurrency: int = 4,
        max_attempts: int = 8,
        on_result: Callable[[ItemResult], None] | None = None,
        on_results: Callable[[list[ItemResult]], None] | None = None,
        on_before_send: Callable[[list[BatchItem]], None] | None = None,
        on_not_sent: Callable[[list[BatchItem]], None] | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        rng: random.Random | None = None,
        max_throttle_retries: int = 50,
        batch_size: int = MAX_BATCH,
    ) -> None:
        if concurrency < 1 or max_attempts < 1:
            raise ValueError("concurrency and max_attempts must be >= 1")
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH}")
        self.client = client
        self.control = control
        self.pacer = pacer
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.max_throttle_retries = max_throttle_retries
        self.batch_size = batch_size
        self.on_result = on_result
        self.on_results = on_results
        self.on_before_send = on_before_send
        self.on_not_sent = on_not_sent
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()

    # -- public ----------------------------------------------------------------------------

    def run(self, items: Iterable[BatchItem]) -> list[ItemResult]:
        """Run every item to a final outcome; one result per input item, in input order."""
        items = list(items)
        for item in items:
            if item.version not in ("v1.0", "beta"):
                raise ValueError(f"item {item.key}: unknown version {item.version!r}")
        if not items:
            return []
        st = _Run(items, results=[None] * len(items))

        def wake() -> None:
            with st.cond:
                st.cond.notify_all()

        remove_listener = self.control.add_listener(wake)
        threads = [
            threading.Thread(
                target=self._worker, args=(st,), name=f"closeout-batch-{n}", daemon=True
            )
            for n in range(min(self.concurrency, max(1, len(items) // self.batch_size + 1)))
        ]
        try:
            for thread in threads:
                thread.start()
            try:
                for thread in threads:
                    thread.join()
            except BaseException as exc:
                # Interrupted (Ctrl+C): let in-flight POSTs finish and be judged, so that
                # no request that went out is left unrecorded, then re-raise.
                self._abort(st, exc)
                for thread in threads:
                    thread.join()
        finally:
            remove_listener()
        unfinished = [
            st.works.get(index) or _Work(index, item)
            for index, item in enumerate(items)
            if st.results[index] is None
        ]
        skipped = [self._skipped(st, work) for work in unfinished]
        if self.on_not_sent is not None:
            # What never went out and was never journalled is no request's outcome: one
            # count for all of it (the plan names the objects), not a line per object.
            never = [r for r, w in zip(skipped, unfinished, strict=True) if _never_sent(w)]
            if never:
                self._callback(st, "on_not_sent", self.on_not_sent, [r.item for r in never])
            skipped = [r for r, w in zip(skipped, unfinished, strict=True) if not _never_sent(w)]
        for start in range(0, len(skipped), _REPORT_CHUNK):
            self._report(st, skipped[start : start + _REPORT_CHUNK])
        if st.error is not None:
            raise st.error
        return [result for result in st.results if result is not None]

    # -- the worker loop -------------------------------------------------------------------

    def _worker(self, st: _Run) -> None:
        try:
            while True:
                if not self.control.checkpoint():
                    return
                batch = self._take(st)
                if batch is None:
                    return
                if batch:
                    self._process(st, batch)
        except BaseException as exc:  # recorded, then re-raised by run()
            log.exception("batch worker failed")
            self._abort(st, exc)

    def _take(self, st: _Run) -> list[_Work] | None:
        """The next batch; ``[]`` to re-checkpoint (paused); None when this worker is done."""
        with st.cond:
            while True:
                if st.aborted or self.control.stopped:
                    return None
                if self.control.paused:
                    return []
                head = st.head()
                if head is None and st.in_flight == 0:
                    return None
                now = time.monotonic()
                if st.outage_since is not None and (st.in_flight or now < st.retry_at):
                    # Graph is out of reach: one batch probes at a time, after its backoff,
                    # instead of every worker journalling fresh batches that cannot leave.
                    st.cond.wait(min(1.0, max(0.01, st.retry_at - now)))
                    continue
                if head is not None and head[0] <= now:
                    batch = self._pop_ready(st, now)
                    st.in_flight += len(batch)
                    return batch
                timeout = min(1.0, head[0] - now) if head is not None else 1.0
                st.cond.wait(timeout)

    def _pop_ready(self, st: _Run, now: float) -> list[_Work]:
        """Up to ``batch_size`` ready items of one API version (that of the earliest ready)."""
        head = st.head()
        assert head is not None
        version = st.items[head[1]].version
        batch: list[_Work] = []
        other: list[tuple[float, int]] = []
        while head is not None and head[0] <= now and len(batch) < self.batch_size:
            work = st.pop()
            if work.item.version == version:
                batch.append(work)
            else:
                other.append((head[0], work.index))
            head = st.head()
        for entry in other:
            heapq.heappush(st.heap, entry)
        return batch

    def _release(self, st: _Run, batch: list[_Work]) -> None:
        """Put unsent items back (they become ``skipped`` if the run is ending)."""
        with st.cond:
            for work in batch:
                heapq.heappush(st.heap, (work.ready_at, work.index))
            st.in_flight -= len(batch)
            st.cond.notify_all()

    def _process(self, st: _Run, batch: list[_Work]) -> None:
        """Pace, journal, send and judge one batch; every item ends settled or released."""
        owned = batch
        grant: Grant | None = None
        sending = False
        try:
            writes = sum(1 for w in batch if w.item.is_write)
            if self.pacer is not None and writes:
                grant = self.pacer.acquire_up_to(writes, self.control)
                granted = grant.n if grant is not None else 0
                if granted < writes:
                    # Send what fits now and give the rest back, rather than holding 20
                    # items until 20 slots are free while other workers could fill the gaps.
                    batch, rest = _split_writes(batch, granted)
                    self._release(st, rest)
                    owned, writes = batch, granted
            # Acquiring may have taken a while: honour a pause or stop that came meanwhile
            # (a stop is also how the pacer grants nothing). After a pause the slots we got
            # go back unused, and the batch is paced again on resume.
            if not batch or self.control.paused or self.control.stopped or st.aborted:
                return
            items = [w.item for w in batch]
            if self.on_before_send is not None:
                try:
                    self.on_before_send(items)
                except BaseException as exc:
                    # The journal could not record the intent: sending now would be an
                    # action nobody could prove afterwards.
                    self._abort(st, exc)
                    return
            for work in batch:
                work.attempts += 1
                work.journalled = True
            subs = [self._sub_request(n, item) for n, item in enumerate(items, 1)]
            sending = True
            try:
                resp = self.client.post_batch(subs, version=items[0].version)
            except NetworkError as exc:
                log.warning("batch of %d: %s", len(batch), exc.message)
                if exc.unsent:
                    # It never left: no attempt, no slots used; Graph is out of reach.
                    sending = False
                    self._unreachable(st, batch, exc)
                    owned = []
                    return
                # The POST may have reached Graph: for the pacer it counts as answered now
                # (Graph counted it by now if at all); its writes are judged ambiguous.
                self._answered(grant)
                self._reachable(st)
                judge = _Judgement(self, self._jitter())
                for work in batch:
                    judge.ambiguous(work, status=None, code=exc.kind, message=exc.message)
            else:
                # Before judging: the journal's outcome lines must not keep our slots longer.
                self._answered(grant)
                self._reachable(st)
                judge = self._judge(st, batch, resp, grant)
            if judge.long_wait is not None:
                # Graph asks for longer than closeout sleeps through: a wait for the admin.
                self._abort(st, LongWait(judge.long_wait))
            elif judge.throttled is not None and not self.control.stopped:
                log.warning("%s", judge.throttled.text())
                self.control.announce(judge.throttled)
            owned = []
            self._settle(st, batch, judge.finals(batch))
        finally:
            if self.pacer is not None and grant is not None:
                # Idempotent after _answered. A request that may have left (an unexpected
                # error while sending) keeps its slots a window longer; one that certainly
                # did not leave gives them back.
                (self.pacer.answered if sending else self.pacer.cancel)(grant)
            # Unsent (or, after an unexpected error, unjudged) items go back to the queue;
            # the final sweep reports them skipped if the run is ending.
            if owned:
                self._release(st, owned)

    def _unreachable(self, st: _Run, batch: list[_Work], exc: NetworkError) -> None:
        """A POST that never left (refused, no route): back to the front of the queue as not
        sent, the next try after a growing backoff, and the run ends as an outage (exit 3,
        everything unsent counted as such) once that lasted the client's outage limit and its
        tries (a loaded machine's slow tries must not make an outage of two refusals)."""
        now = time.monotonic()
        with st.cond:
            st.outage_since = now if st.outage_since is None else st.outage_since
            st.outage_tries += 1
            # No wait longer than the outage limit: once it passed, the tries still owed
            # (OUTAGE_TRIES) come a limit apart, not minutes of backoff apart.
            delay = min(self._backoff(st.outage_tries, self._jitter()), self.client.outage_limit)
            st.retry_at = now + delay
            for work in batch:
                work.attempts -= 1  # the attempt never happened
                work.status, work.code, work.message = None, exc.kind, exc.message
                work.ready_at = -1.0  # the probe resends these: no new intents meanwhile
                heapq.heappush(st.heap, (work.ready_at, work.index))
            st.in_flight -= len(batch)
            lasted = now - st.outage_since
            tries = st.outage_tries
            st.cond.notify_all()
        if lasted + delay > self.client.outage_limit and tries >= self.client.outage_tries:
            self._abort(
                st,
                NetworkError(
                    exc.method,
                    exc.path,
                    exc.cause,
                    unsent=True,
                    reached=True,
                    outage=lasted,
                ),
            )
            return
        why = _("Graph did not answer ({detail}): retrying in {seconds}").format(
            detail=plain_reason(exc.detail, exc.kind), seconds="{seconds}"
        )
        self.control.announce(
            Waiting.starting_now(_("sending a batch of {n}").format(n=len(batch)), why, delay)
        )

    def _reachable(self, st: _Run) -> None:
        if st.outage_since is not None:
            with st.cond:
                st.outage_since, st.outage_tries, st.retry_at = None, 0, 0.0
                st.cond.notify_all()

    def _answered(self, grant: Grant | None) -> None:
        if self.pacer is not None and grant is not None:
            self.pacer.answered(grant)

    @staticmethod
    def _sub_request(n: int, item: BatchItem) -> dict[str, Any]:
        sub: dict[str, Any] = {"id": str(n), "method": item.method.upper(), "url": item.url}
        headers = dict(item.headers or {})
        if item.body is not None:
            sub["body"] = item.body
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = "application/json"
        if headers:
            sub["headers"] = headers
        return sub
