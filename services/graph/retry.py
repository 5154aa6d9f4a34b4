"""The Graph client's retries and waits: one request sent until Graph answers for good, with a
refresh on a 401, ``Retry-After`` honoured on a time budget, server faults and network errors
backed off, an outage bounded, and every wait interruptible and saying what it waits for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from services.control import Waiting
from services.durations import wait_duration
from services.errors import (
    AuthError,
    GraphError,
    LongWait,
    NetworkError,
    NotGraph,
    Stopped,
    plain_reason,
)
from services.i18n import _

from .addressing import _SAFE_METHODS, _Addressing
from .answers import _from_graph
from .bounds import _RETRY_STATUSES, ANNOUNCE_AFTER, ASKED
from .failures import _NETWORK_ERRORS, _Failure, _never_sent, _NotGraphAnswer, _refused
from .responses import GraphResponse, _versioned
from .transport import _Transport

log = logging.getLogger("closeout.graph")


class _Retrying(_Addressing, _Transport):
    """The part of :class:`~.client.GraphClient` that retries and waits."""

    def _backoff(self, retry: int) -> float:
        # Exponential from backoff_base, jittered upward so that parallel clients spread out
        # and the wait is never shorter than the documented minimum (1 s for Conditional Access).
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (retry - 1))
        return min(self.backoff_cap, delay * (1.0 + 0.5 * self._rng.random()))

    def _wait(self, seconds: float, waiting: Waiting) -> None:
        """Sleep ``seconds`` on this thread's control, saying what for; :class:`Stopped` if a
        stop comes meanwhile (at once: the wait is an event, not a sleep)."""
        log.log(
            logging.WARNING if seconds >= ANNOUNCE_AFTER else logging.INFO, "%s", waiting.text()
        )
        control = self.current_control()
        if control is None:
            stopped = self._closed.wait(seconds)
        else:
            stopped = control.wait(seconds, waiting if seconds >= ANNOUNCE_AFTER else None)
        if stopped:
            raise Stopped(hint=_("the request was not retried"))

    def _send(
        self,
        method: str,
        path: str,
        *,
        version: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        retry: bool,
        raise_for_status: bool,
    ) -> GraphResponse:
        method = method.upper()
        url, ver, shown = self._resolve(path, version, params)
        self._check_read_only(method, shown, json)
        batch_size = (
            len(json["requests"]) if shown == "/$batch" and isinstance(json, dict) else None
        )
        what = _describe(method, shown, batch_size)
        safe_to_repeat = method != "POST"
        if method not in _SAFE_METHODS:
            with self._state_lock:
                self._writes_sent += 1
        attempt = 0
        retries = 0
        throttled_for = 0.0
        outage_since: float | None = None
        failed_in_a_row = 0
        force_refresh = False
        refreshes = 0
        token = ""
        refused: GraphError | None = None
        while True:
            attempt += 1
            reached_before = self._reached
            try:
                token = self.tokens.token(force_refresh=force_refresh)
                resp = self._exchange(
                    method, url, ver, shown, json, headers, attempt, token, batch_size
                )
            except AuthError as exc:
                # The token source gave up after Graph's 401: keep Graph's answer (its code and
                # message may name the cause, e.g. a tenant that does not exist).
                if refused is not None and exc.__cause__ is None:
                    raise exc from refused
                raise
            except _NETWORK_ERRORS as exc:
                # A POST that may have reached Graph is not resent blindly (it could create
                # something twice); one that never got a connection is safe to resend.
                unsent = _never_sent(exc)
                failure: _Failure | None = _Failure(exc, unsent)
            else:
                failure = None
                # A throttle or a server fault is retried (or judged) whoever sent it; any
                # other answer that is not Graph's says nothing about Graph's objects.
                if resp.status not in _RETRY_STATUSES and not _from_graph(resp):
                    if reached_before:
                        # Graph answered before: whatever answers now in its place (a proxy's
                        # error page) is an outage, and its 404 says nothing about an object.
                        failure = _Failure(_NotGraphAnswer(resp), True)
                    else:
                        raise NotGraph(
                            self.graph_url, resp.status, resp.headers.get("Content-Type")
                        )
            if failure is not None:
                err = self._network_error(
                    method, _versioned(ver, shown), failure, attempt, reached_before
                )
                if not retry or not (safe_to_repeat or failure.unsent):
                    raise err from None
                retries += 1
                delay = self._backoff(retries)
                if not reached_before:
                    # Nothing has ever answered here: refused or no such name is a wrong URL
                    # or no network, not worth half a minute of backoff; other failures (a
                    # reset, a timeout) get the usual few retries.
                    if _refused(failure.cause) or retries > self.max_retries:
                        raise err from None
                else:
                    now = time.monotonic()
                    outage_since = now if outage_since is None else outage_since
                    failed_in_a_row += 1
                    lasted = now - outage_since
                    if lasted >= self.outage_limit and failed_in_a_row >= self.outage_tries:
                        raise self._network_error(
                            method,
                            _versioned(ver, shown),
                            failure,
                            attempt,
                            True,
                            outage=lasted,
                        ) from None
                    # The outage is waited out for its limit and its tries, not less: a first
                    # failure is always tried again, even when a 5xx before it grew the backoff
                    # past the limit (a fast sandbox clock's limit is two seconds), and no
                    # wait is longer than the limit.
                    delay = min(delay, max(self.outage_limit - lasted, 0.0) or self.outage_limit)
                why = _("Graph did not answer ({detail}): retrying in {seconds}").format(
                    detail=plain_reason(err.detail, err.kind), seconds="{seconds}"
                )
                self._wait(delay, Waiting.starting_now(what, why, delay))
                continue
            outage_since, failed_in_a_row = None, 0
            force_refresh = False
            status = resp.status
            if (
                status == 401
                and refreshes < self.max_retries
                and (not refreshes or self.was_accepted(token))
            ):
                # Tokens can expire or be revoked between our check and Graph's; a forced
                # refresh distinguishes that from a real loss of access. Once per expiry: a
                # token Graph took before has expired since, however often that happens in a
                # long run; a freshly acquired token that Graph refuses is a real refusal.
                refreshes += 1
                force_refresh = True
                refused = resp.error()
                log.info("%s %s -> 401; refreshing the token and retrying", method, shown)
                continue
            if resp.ok:
                return resp
            if retry and status == 429:
                # Graph did not act on a throttled request, so even a POST may be resent, for
                # as long as Graph asks within the time budget; no count applies.
                ra = resp.retry_after
                retries += 1
                delay = ra if ra is not None else self._backoff(retries)
                if delay > self.max_wait:
                    raise LongWait(Waiting.starting_now(what, _(ASKED), delay))
                if throttled_for + delay > self.max_wait:
                    raise LongWait(
                        Waiting.starting_now(
                            what,
                            _(
                                "Graph has throttled it for {duration} and asks for {seconds} more"
                            ).format(duration=wait_duration(throttled_for), seconds="{seconds}"),
                            delay,
                        )
                    )
                throttled_for += delay
                why = (
                    _(ASKED) if ra is not None else _("Graph is throttling: retrying in {seconds}")
                )
                self._wait(delay, Waiting.starting_now(what, why, delay))
                continue
            if (
                retry
                and status in _RETRY_STATUSES
                and safe_to_repeat
                and retries < self.max_retries
            ):
                retries += 1
                ra = resp.retry_after
                delay = ra if ra is not None else self._backoff(retries)
                if delay > self.max_wait:
                    raise LongWait(Waiting.starting_now(what, _(ASKED), delay))
                why = _("Graph answered {status}: retrying in {seconds}").format(
                    status=status, seconds="{seconds}"
                )
                self._wait(delay, Waiting.starting_now(what, why, delay))
                continue
            if raise_for_status:
                raise resp.error()
            return resp

    def _network_error(
        self,
        method: str,
        path: str,
        failure: _Failure,
        attempt: int,
        reached: bool,
        *,
        outage: float | None = None,
    ) -> NetworkError:
        return NetworkError(
            method,
            path,
            failure.cause,
            attempts=attempt,
            secrets=(self._last_token,),
            unsent=failure.unsent,
            reached=reached,
            outage=outage,
            where=self.graph_url,
        )


def _describe(method: str, shown: str, batch_size: int | None) -> str:
    """What a request does, for a wait's line: "reading /users", "sending a batch of 20"."""
    path = shown.split("?", 1)[0]
    if batch_size is not None:
        return _("sending a batch of {n}").format(n=batch_size)
    if method in _SAFE_METHODS:
        return _("reading {path}").format(path=path)
    return f"{method} {path}"
