"""The batch executor: runs many Graph requests as ``$batch`` POSTs and judges every item.

Given a list of :class:`BatchItem` (one object, one request each), :class:`BatchExecutor`
packs up to 20 of the same API version into one ``POST /{version}/$batch``, keeps several
batches in flight, paces writes to the tenant's write quota, and decides each item's fate from
its own sub-response: done, already gone (404 on a DELETE), retried later (429 after its own
``Retry-After``; 5xx, 424, an item's own 401 and network errors with jittered backoff), or
failed with Graph's code and message. A write whose request may have reached Graph but got no
answer that can be trusted (the connection broke after sending; a malformed envelope;
sub-responses for ids that were not asked, or twice, or not at all) is ``unknown``: not resent
blindly, and never ``done`` on an answer that may be another item's; its step settles it with a
fresh read (:mod:`.settle`).
Pause and stop act between batches; a stop never leaves a sent request unrecorded: in-flight
POSTs are judged, and everything unfinished is reported ``skipped`` (code ``NotSent`` when it
was never sent at all).
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from .control import RunControl, Waiting
from .endpoints import Endpoint
from .errors import GraphError, LongWait, NetworkError, parse_retry_after, plain_reason
from .graph import ASKED, MAX_BATCH, GraphClient, GraphResponse, parse_throttle_percentage
from .i18n import _
from .pacing import Grant, WritePacer

__all__ = ["BatchExecutor", "BatchItem", "ItemResult", "Outcome"]

log = logging.getLogger("closeout.batch")

_SAFE_METHODS = frozenset({"GET", "HEAD"})
# Skipped items are reported in groups of this many (one journal write each) after a stop.
_REPORT_CHUNK = 500


@dataclass(frozen=True)
class BatchItem:
    """One request on one object. ``url`` is relative to the version root (``/users/{id}``)."""

    key: str
    method: str
    url: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    version: str = "v1.0"
    action: str = ""
    label: str = ""
    once: bool = False
    """Never sent twice: a 5xx answer to it (a gateway may time out after Graph acted) is
    ``unknown`` and settled by a fresh read, like a lost answer, instead of being retried."""

    @property
    def is_write(self) -> bool:
        return self.method.upper() not in _SAFE_METHODS

    @classmethod
    def of(
        cls,
        call: Endpoint,
        key: str,
        *,
        body: dict[str, Any] | None = None,
        action: str = "",
        label: str = "",
        once: bool = False,
    ) -> BatchItem:
        """``call`` (its row in :mod:`services.endpoints`) on the object ``key``; a body goes
        as JSON."""
        return cls(
            key=key,
            method=call.method,
            url=call.url(id=key) if call.placeholders else call.url(),
            body=body,
            headers={"Content-Type": "application/json"} if body is not None else None,
            version=call.version,
            action=action,
            label=label,
            once=once,
        )


class Outcome(StrEnum):
    """What finally happened to an item."""

    done = "done"  # 2xx
    gone = "gone"  # 404 on a DELETE: already deleted, counts as success
    failed = "failed"  # permanent 4xx, or retries exhausted
    skipped = "skipped"  # not finished because the run stopped; safe to run again
    unknown = "unknown"  # sent, no trustworthy answer: did Graph act on it? A fresh read says


@dataclass(frozen=True)
class ItemResult:
    """The final outcome of one item. ``body`` is the sub-response body of a 2xx (GETs)."""

    item: BatchItem
    outcome: Outcome
    status: int | None
    code: str | None
    message: str | None
    request_id: str | None
    attempts: int
    finished_at: datetime
    body: Any = None

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.done, Outcome.gone)

    @property
    def sent(self) -> bool:
        """False for an item that never went out: "not sent" is no outcome of a request."""
        return self.attempts > 0


@dataclass(eq=False)
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
    """State of one :meth:`BatchExecutor.run`, guarded by ``cond``."""

    works: list[_Work]
    cond: threading.Condition = field(default_factory=threading.Condition)
    heap: list[tuple[float, int]] = field(default_factory=list)
    results: dict[int, ItemResult] = field(default_factory=dict)
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


class BatchExecutor:
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
        works = [_Work(i, item) for i, item in enumerate(items)]
        for work in works:
            if work.item.version not in ("v1.0", "beta"):
                raise ValueError(f"item {work.item.key}: unknown version {work.item.version!r}")
        st = _Run(works)
        if not works:
            return []
        st.heap = [(0.0, w.index) for w in works]
        heapq.heapify(st.heap)

        def wake() -> None:
            with st.cond:
                st.cond.notify_all()

        remove_listener = self.control.add_listener(wake)
        threads = [
            threading.Thread(
                target=self._worker, args=(st,), name=f"closeout-batch-{n}", daemon=True
            )
            for n in range(min(self.concurrency, max(1, len(works) // self.batch_size + 1)))
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
        unfinished = [work for work in works if work.index not in st.results]
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
        return [st.results[w.index] for w in works]

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
                if not st.heap and st.in_flight == 0:
                    return None
                now = time.monotonic()
                if st.outage_since is not None and (st.in_flight or now < st.retry_at):
                    # Graph is out of reach: one batch probes at a time, after its backoff,
                    # instead of every worker journalling fresh batches that cannot leave.
                    st.cond.wait(min(1.0, max(0.01, st.retry_at - now)))
                    continue
                if st.heap and st.heap[0][0] <= now:
                    batch = self._pop_ready(st, now)
                    st.in_flight += len(batch)
                    return batch
                timeout = min(1.0, st.heap[0][0] - now) if st.heap else 1.0
                st.cond.wait(timeout)

    def _pop_ready(self, st: _Run, now: float) -> list[_Work]:
        """Up to ``batch_size`` ready items of one API version (that of the earliest ready)."""
        version = st.works[st.heap[0][1]].item.version
        batch: list[_Work] = []
        other: list[tuple[float, int]] = []
        while st.heap and st.heap[0][0] <= now and len(batch) < self.batch_size:
            entry = heapq.heappop(st.heap)
            work = st.works[entry[1]]
            if work.item.version == version:
                batch.append(work)
            else:
                other.append(entry)
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
        everything unsent counted as such) once that lasted the client's outage limit."""
        now = time.monotonic()
        with st.cond:
            st.outage_since = now if st.outage_since is None else st.outage_since
            st.outage_tries += 1
            delay = self._backoff(st.outage_tries, self._jitter())
            st.retry_at = now + delay
            for work in batch:
                work.attempts -= 1  # the attempt never happened
                work.status, work.code, work.message = None, exc.kind, exc.message
                work.ready_at = -1.0  # the probe resends these: no new intents meanwhile
                heapq.heappush(st.heap, (work.ready_at, work.index))
            st.in_flight -= len(batch)
            lasted = now - st.outage_since
            st.cond.notify_all()
        limit = self.client.outage_limit
        if lasted + delay > limit:
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

    # -- judging ---------------------------------------------------------------------------

    def _judge(
        self, st: _Run, batch: list[_Work], resp: GraphResponse, grant: Grant | None = None
    ) -> _Judgement:
        """Decide every item of a POST that got an HTTP answer."""
        judge = _Judgement(self, self._jitter(), request_id=resp.request_id)
        responses = _responses(resp)
        sent_at = grant.at if grant is not None else None
        # A 429's own limit reading (1.00) is the throttling itself, handled by hold().
        pressures = [resp.throttle_percentage if resp.status != 429 else None]
        if responses is not None:
            # Per-item answers exist (a 200, or a 424 as THR describes): judge each on its own,
            # if the answers can be told apart. An id that was not asked, or one answered
            # twice, means no answer in this envelope can be matched to its request.
            by_id = _answers_by_id(responses, len(batch))
            if by_id is None:
                for work in batch:
                    judge.ambiguous(
                        work,
                        status=resp.status,
                        code="UntrustedBatchResponse",
                        message="the batch response answered other ids than were asked",
                    )
                self._observe(pressures, grant)
                return judge
            for n, work in enumerate(batch, 1):
                sub = by_id.get(str(n))
                if sub is None:
                    judge.ambiguous(
                        work,
                        status=None,
                        code="MissingSubResponse",
                        message="the batch response had no answer for this request",
                    )
                    continue
                headers = _lower_headers(sub.get("headers"))
                if str(sub.get("status")) != "429":
                    pressures.append(
                        parse_throttle_percentage(headers.get("x-ms-throttle-limit-percentage"))
                    )
                self._judge_one(judge, work, sub, headers)
            if judge.holds and self.pacer is not None:
                self.pacer.hold(max(judge.holds), sent_at=sent_at)
            self._observe(pressures, grant)
            return judge
        self._observe(pressures, grant)
        status = resp.status
        error = resp.error()
        if status == 429:
            ra = resp.retry_after
            if self.pacer is not None and ra is not None:
                self.pacer.hold(ra, sent_at=sent_at)
            for work in batch:
                judge.retry(
                    work,
                    status=status,
                    code=error.code,
                    message=error.message,
                    throttled=True,
                    delay=ra,
                )
        elif status == 424:
            # Failed dependency without item answers: nothing was carried out.
            for work in batch:
                judge.retry(work, status=status, code=error.code, message=error.message)
        elif status >= 500 or resp.ok:
            # A 2xx without readable item answers, or a server fault on the envelope (a gateway
            # may answer 5xx after Graph acted): whether the writes were carried out is unknown.
            for work in batch:
                judge.ambiguous(work, status=status, code=error.code, message=error.message)
        else:
            if status == 401:
                # Sign-in is gone (the client already refreshed once): every further batch
                # would fail the same way, so stop here and let the admin sign in again.
                self._abort(st, error)
            for work in batch:
                judge.final(work, Outcome.failed, status, error.code, error.message)
        return judge

    def _judge_one(
        self, judge: _Judgement, work: _Work, sub: dict[str, Any], headers: dict[str, str]
    ) -> None:
        item = work.item
        try:
            status = int(sub.get("status", 0))
        except (TypeError, ValueError, OverflowError):  # OverflowError: a status of 1e400
            status = 0
        request_id = headers.get("request-id")
        body = sub.get("body")
        if 200 <= status < 300:
            judge.final(work, Outcome.done, status, None, None, request_id, body)
            return
        error = GraphError.from_parts(
            status,
            body if body is not None else b"",
            headers,
            method=item.method,
            path=f"/{item.version}{item.url}",
        )
        if status == 404 and item.method.upper() == "DELETE":
            judge.final(work, Outcome.gone, status, error.code, error.message, request_id)
        elif status == 429:
            ra = parse_retry_after(headers.get("retry-after"))
            if ra is not None:
                judge.holds.append(ra)
            judge.retry(
                work,
                status=status,
                code=error.code,
                message=error.message,
                throttled=True,
                delay=ra,
                request_id=request_id,
            )
        elif status == 401:
            # Refused before it was carried out: the token expired (or was revoked) while the
            # batch was served. The next batch's envelope meets the same 401, which refreshes
            # the sign-in, or stops the run if it is gone; so the item is simply sent again.
            judge.retry(
                work,
                status=status,
                code=error.code,
                message=error.message,
                request_id=request_id,
            )
        elif status < 100:
            judge.ambiguous(
                work,
                status=None,
                code=error.code,
                message="the answer for this request has no valid status",
                request_id=request_id,
            )
        elif status >= 500 and item.once:
            judge.ambiguous(
                work,
                status=status,
                code=error.code,
                message=error.message,
                request_id=request_id,
            )
        elif status >= 500 or status == 424:
            judge.retry(
                work,
                status=status or None,
                code=error.code,
                message=error.message,
                request_id=request_id,
            )
        else:
            judge.final(work, Outcome.failed, status, error.code, error.message, request_id)

    def _observe(self, pressures: list[float | None], grant: Grant | None) -> None:
        if self.pacer is None:
            return
        present = [p for p in pressures if p is not None]
        self.pacer.observe(max(present) if present else None, grant)

    # -- outcomes --------------------------------------------------------------------------

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
                    st.results[work.index] = final
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
            st.results[work.index] = result
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


class _Judgement:
    """The verdicts for one POST's items: final results, or a retry time per item.

    One jitter draw per POST keeps items that failed together together, so that they are
    resent in one batch rather than scattered over many.
    """

    def __init__(self, ex: BatchExecutor, jitter: float, request_id: str | None = None) -> None:
        self.ex = ex
        self.jitter = jitter
        self.request_id = request_id
        self.holds: list[float] = []
        self.long_wait: Waiting | None = None
        """A throttle longer than the client sleeps through: the run ends as a wait."""
        self._finals: dict[int, ItemResult] = {}

    def final(
        self,
        work: _Work,
        outcome: Outcome,
        status: int | None,
        code: str | None,
        message: str | None,
        request_id: str | None = None,
        body: Any = None,
    ) -> None:
        self._finals[work.index] = ItemResult(
            item=work.item,
            outcome=outcome,
            status=status,
            code=code,
            message=message,
            request_id=request_id or self.request_id,
            attempts=work.attempts,
            finished_at=datetime.now(UTC),
            body=body,
        )

    def retry(
        self,
        work: _Work,
        *,
        status: int | None,
        code: str | None,
        message: str | None,
        throttled: bool = False,
        delay: float | None = None,
        request_id: str | None = None,
    ) -> None:
        """Schedule ``work`` again, or make it final if its retries are used up."""
        ex = self.ex
        work.status, work.code, work.message = status, code, message
        work.request_id = request_id or self.request_id
        if throttled:
            work.throttled += 1
            exhausted = work.throttled > ex.max_throttle_retries
            wait = delay if delay is not None else ex._backoff(work.throttled, self.jitter)
            if wait > ex.client.max_wait and (
                self.long_wait is None or wait > self.long_wait.seconds
            ):
                what = _("sending {action}").format(action=work.item.action or work.item.method)
                self.long_wait = Waiting.starting_now(what, _(ASKED), wait)
        else:
            exhausted = work.faults >= ex.max_attempts
            wait = ex._backoff(work.faults, self.jitter)
        if exhausted:
            self.final(work, Outcome.failed, status, code, message, request_id)
            return
        work.ready_at = time.monotonic() + wait
        log.debug(
            "%s %s: %s %s, retry in %.2f s",
            work.item.action or work.item.method,
            work.item.key,
            status,
            code,
            wait,
        )

    def ambiguous(
        self,
        work: _Work,
        *,
        status: int | None,
        code: str | None,
        message: str | None,
        request_id: str | None = None,
    ) -> None:
        """The request may have reached Graph, and no answer for it can be trusted.

        A write becomes ``unknown`` at once: resending it blindly could write twice, and only
        a fresh read can say whether it was carried out. A read is simply sent again.
        """
        if not work.item.is_write:
            self.retry(work, status=status, code=code, message=message, request_id=request_id)
            return
        self.final(
            work,
            Outcome.unknown,
            status,
            code,
            f"sent, but no answer that can be trusted came back ({message})",
            request_id,
        )

    def finals(self, batch: list[_Work]) -> list[ItemResult | None]:
        return [self._finals.get(w.index) for w in batch]


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


def _responses(resp: GraphResponse) -> list[Any] | None:
    """The ``responses`` array of a batch answer, or None if the body has none."""
    try:
        data = resp.json()
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("responses"), list):
        return data["responses"]
    return None


def _answers_by_id(responses: list[Any], asked: int) -> dict[str, dict[str, Any]] | None:
    """Sub-responses by id, or None if they cannot be matched to the requests: an entry that
    is not an object, an id that was not asked (``1``..``asked``), or an id answered twice."""
    by_id: dict[str, dict[str, Any]] = {}
    for answer in responses:
        if not isinstance(answer, dict):
            return None
        key = str(answer.get("id"))
        if key in by_id or not key.isdigit() or not 1 <= int(key) <= asked or key != str(int(key)):
            return None
        by_id[key] = answer
    return by_id


def _lower_headers(headers: Any) -> dict[str, str]:
    if not isinstance(headers, dict):
        return {}
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _never_sent(work: _Work) -> bool:
    """Never went out and never journalled: nothing of it is anywhere but in the plan."""
    return work.attempts == 0 and not work.journalled
