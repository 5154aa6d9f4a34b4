"""Judging the answer to one ``$batch`` POST: matching sub-responses to the items asked, and
each item's verdict (done, gone, retried after a wait or backoff, unknown, failed), with the
throttling readings the write pacer learns from.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from services.control import Waiting
from services.errors import GraphError, parse_retry_after
from services.graph.bounds import ANNOUNCE_AFTER, ASKED
from services.graph.responses import GraphResponse, parse_throttle_percentage
from services.i18n import _
from services.pacing import Grant

from .items import ItemResult, Outcome
from .outcomes import _Outcomes
from .work import _Run, _Work

log = logging.getLogger("closeout.batch")


class _Judging(_Outcomes):
    """The part of :class:`~.executor.BatchExecutor` that judges a POST's answer."""

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
                judge.retry_on(work, error, status=status, throttled=True, delay=ra)
        elif status == 424:
            # Failed dependency without item answers: nothing was carried out.
            for work in batch:
                judge.retry_on(work, error, status=status)
        elif status >= 500 or resp.ok:
            # A 2xx without readable item answers, or a server fault on the envelope (a gateway
            # may answer 5xx after Graph acted): whether the writes were carried out is unknown.
            for work in batch:
                judge.ambiguous_on(work, error, status=status)
        else:
            if status == 401:
                # Sign-in is gone (the client refreshed the token and Graph refused the fresh
                # one too): every further batch would fail the same way, so stop here and let
                # the admin sign in again (exit 5).
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
            judge.retry_on(
                work, error, status=status, throttled=True, delay=ra, request_id=request_id
            )
        elif status == 401:
            # Refused before it was carried out: the token expired (or was revoked) while the
            # batch was served. The next batch's envelope meets the same 401, which refreshes
            # the sign-in, or stops the run if it is gone; so the item is simply sent again.
            judge.retry_on(work, error, status=status, request_id=request_id)
        elif status < 100:
            judge.ambiguous(
                work,
                status=None,
                code=error.code,
                message="the answer for this request has no valid status",
                request_id=request_id,
            )
        elif status >= 500:
            # A gateway may answer 5xx after Graph acted: a write is settled by a fresh read
            # (resending it blindly could write twice); a read is simply sent again.
            judge.ambiguous_on(work, error, status=status, request_id=request_id)
        elif status == 424:
            judge.retry_on(work, error, status=status, request_id=request_id)
        else:
            judge.final(work, Outcome.failed, status, error.code, error.message, request_id)

    def _observe(self, pressures: list[float | None], grant: Grant | None) -> None:
        if self.pacer is None:
            return
        present = [p for p in pressures if p is not None]
        self.pacer.observe(max(present) if present else None, grant)


class _Judgement:
    """The verdicts for one POST's items: final results, or a retry time per item.

    One jitter draw per POST keeps items that failed together together, so that they are
    resent in one batch rather than scattered over many.
    """

    def __init__(self, ex: _Outcomes, jitter: float, request_id: str | None = None) -> None:
        self.ex = ex
        self.jitter = jitter
        self.request_id = request_id
        self.holds: list[float] = []
        self.long_wait: Waiting | None = None
        """A throttle longer than the client sleeps through: the run ends as a wait."""
        self.throttled: Waiting | None = None
        """The longest throttle waited out (an item's own 429 as much as the whole POST's):
        said like a throttled read's, with what waits and until when."""
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
            what = _("sending {action}").format(action=work.item.action or work.item.method)
            if wait > ex.client.max_wait:
                if self.long_wait is None or wait > self.long_wait.seconds:
                    self.long_wait = Waiting.starting_now(what, _(ASKED), wait)
            elif (
                not exhausted
                and wait >= ANNOUNCE_AFTER
                and (self.throttled is None or wait > self.throttled.seconds)
            ):
                why = (
                    _(ASKED)
                    if delay is not None
                    else _("Graph is throttling: retrying in {seconds}")
                )
                self.throttled = Waiting.starting_now(what, why, wait)
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

    def retry_on(
        self,
        work: _Work,
        error: GraphError,
        *,
        status: int | None,
        throttled: bool = False,
        delay: float | None = None,
        request_id: str | None = None,
    ) -> None:
        """:meth:`retry` for Graph's ``error``: its code and message are what the item keeps."""
        self.retry(
            work,
            status=status,
            code=error.code,
            message=error.message,
            throttled=throttled,
            delay=delay,
            request_id=request_id,
        )

    def ambiguous_on(
        self, work: _Work, error: GraphError, *, status: int | None, request_id: str | None = None
    ) -> None:
        """:meth:`ambiguous` for Graph's ``error``, with its code and message."""
        self.ambiguous(
            work, status=status, code=error.code, message=error.message, request_id=request_id
        )

    def finals(self, batch: list[_Work]) -> list[ItemResult | None]:
        return [self._finals.get(w.index) for w in batch]


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
