"""Fault injection: targeted rules (for tests) and random rates (for soak runs and the demo).

Random spec, comma-separated: ``5xx=P`` (503/502/504), ``429=P`` (a throttle with a short
``Retry-After``), ``drop=P`` (close the connection without answering), ``slow=P:SECONDS``, and
the ways an answer can go wrong after Graph acted: ``lost=P`` (serve, then cut the connection:
the answer is lost), ``malformed=P`` (serve, then answer JSON cut off midway), ``batch=P`` (a
``$batch`` served, its answers ``shuffled`` — as Graph may — or one ``missing`` or a
``duplicate`` id), ``burst=P`` (a ``$batch`` whose items from a random one on are all
throttled: the quota ran out mid-batch), ``overlap=P`` (a page reached through a next link
repeats items of the page before), ``nextlink=P`` (a next link fails: 503 or a dropped
connection), ``expire=P`` (the caller's token expires at the request: 401 with Graph's
"Lifetime validation failed", once it served ``EXPIRE_AFTER`` requests) and
``late5xx=P`` (a write — a ``$batch`` or an item in one — carried out, then answered 503, 502
or 504: a gateway that timed out after Graph acted).
Targeted rules match method and a path regex, fire ``times`` times (-1: forever) and apply to
top-level requests and to items inside a ``$batch`` alike. Besides refusing, stalling or
dropping a request, a rule can spoil what was served: cut the connection after the request was
carried out (``drop`` with ``after``: the answer is lost), answer its ``status`` only after it
was carried out (``after`` without ``drop``), answer a ``$batch`` with ids that do
not match what was asked (``batch_ids``), start a page with items of the page before
(``overlap``, only on pages reached through a next link), or ``rewrite`` the answer into
anything at all (a non-JSON body, an HTML page, a ``value`` that is not a list, a user without
an id: what a proxy or a broken service might send; for the bad-input tests).
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .http import GraphHttpError, Request, Response

BatchIds = Literal["foreign", "duplicate", "missing", "shuffled"]

EXPIRE_AFTER = 16
"""Top-level requests a token serves before the ``expire`` fault can end it. Graph never
refuses a token minutes into its hour as expired, so a token just refreshed after a 401 must
not be the next one to expire: a client retrying with it would read a real refusal. (More
than a client's requests in flight at once, so that a token some of them took is known to
that client as taken before the fault can end it.)"""


@dataclass
class FaultRule:
    method: str | None = None
    path: str | None = None
    """Regex searched in the full path (``/v1.0/users/…``)."""
    status: int | None = 503
    """The answer instead of the real one; None serves the request normally (after ``delay``)."""
    code: str | None = None
    message: str | None = None
    times: int = 1
    retry_after: float | None = None
    """Real seconds for a 429's ``Retry-After``; None sends none."""
    drop: bool = False
    delay: float = 0.0
    """Real seconds to stall before answering (or dropping)."""
    after: bool = False
    """Serve the request first (Graph carries it out), then cut the connection (``drop``) or
    answer ``status`` instead of what was served."""
    batch_ids: BatchIds | None = None
    """For a ``$batch``: serve it, then answer ``foreign`` ids (never asked), a ``duplicate``
    id (one answer's id on another, whose own is then missing), one answer ``missing``, or
    every answer in a ``shuffled`` order (Graph documents no order: a client must match ids)."""
    overlap: int = 0
    """For a page reached through a next link: repeat the last N items of the page before."""
    rewrite: Callable[[Response], Response] | None = None
    """Serve the request, then answer what this makes of the response instead."""
    hits: int = field(default=0, init=False)

    def matches(self, method: str, path: str, *, paged: bool = False) -> bool:
        if self.times == 0 or (self.overlap and not paged):
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return not (self.path and not re.search(self.path, path))


@dataclass(frozen=True)
class Fault:
    """What to do instead of (or before) serving a request."""

    status: int | None = None
    code: str = ""
    message: str = ""
    retry_after: float | None = None
    drop: bool = False
    delay: float = 0.0
    after: bool = False
    batch_ids: BatchIds | None = None
    overlap: int = 0
    rewrite: Callable[[Response], Response] | None = None


_DEFAULT_CODES = {
    429: ("TooManyRequests", "Please retry again later."),
    500: ("InternalServerError", "An internal server error occurred."),
    502: ("BadGateway", "The gateway received an invalid response."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Please retry later."),
    504: ("GatewayTimeout", "The operation timed out."),
    403: ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
    400: ("Request_BadRequest", "Invalid request."),
}


class Faults:
    """Thread-safe fault decisions."""

    def __init__(self, spec: str = "", seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._rng = random.Random(seed ^ 0x5EED)
        self.rates: dict[str, float] = {}
        self.slow_seconds = 1.0
        # The last page served per collection path, kept only once an overlap rule exists.
        self._pages: dict[str, list[Any]] | None = None
        # In a $batch that meets a ``burst``: how many of its items still pass before the
        # rest are throttled (None: no burst in the batch being served).
        self._burst: int | None = None
        self.injected: Counter[str] = Counter()
        """Random faults served so far, per kind (the reliability suite's figures)."""
        self.parse(spec)

    def parse(self, spec: str) -> None:
        """Set the random rates from ``spec``; ValueError (naming the part) if it is not one."""
        rates: dict[str, float] = {}
        slow_seconds = self.slow_seconds
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, value = part.partition("=")
            if not sep or key not in RANDOM_FAULTS:
                raise ValueError(
                    f"unknown fault {part!r}; use {', '.join(RANDOM_FAULTS)}=P or slow=P:SECONDS"
                )
            if key == "slow" and ":" in value:
                value, seconds = value.split(":", 1)
                slow_seconds = _number(seconds, part)
                if not 0 <= slow_seconds <= 600:
                    raise ValueError(f"{part!r}: the delay must be from 0 to 600 seconds")
            rate = _number(value, part)
            if not 0 <= rate <= 1:
                raise ValueError(f"{part!r}: the rate must be from 0 to 1")
            rates[key] = rate
        with self._lock:
            self.rates = rates
            self.slow_seconds = slow_seconds
            if rates.get("overlap") and self._pages is None:
                self._pages = {}

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
            if rule.overlap and self._pages is None:
                self._pages = {}
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.rates = {}
            self._pages = None

    def decide(
        self, method: str, path: str, *, top_level: bool, paged: bool = False
    ) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path, paged=paged):
                    rule.hits += 1
                    if rule.times > 0:
                        rule.times -= 1
                    code, message = (
                        _DEFAULT_CODES.get(rule.status, ("Error", "Injected fault."))
                        if rule.status is not None
                        else ("Error", "Injected fault.")
                    )
                    spoils = (
                        rule.drop
                        or rule.batch_ids is not None
                        or rule.overlap > 0
                        or rule.rewrite is not None
                    )
                    return Fault(
                        status=None if spoils else rule.status,
                        code=rule.code or code,
                        message=rule.message or message,
                        retry_after=rule.retry_after,
                        drop=rule.drop,
                        delay=rule.delay,
                        after=rule.after,
                        batch_ids=rule.batch_ids,
                        overlap=rule.overlap,
                        rewrite=rule.rewrite,
                    )
            if not self.rates or "/_sandbox" in path:
                return None
            kind, fault = self._random(method, path, top_level=top_level, paged=paged)
            if fault is not None:
                self.injected[kind] += 1
            return fault

    def _random(
        self, method: str, path: str, *, top_level: bool, paged: bool
    ) -> tuple[str, Fault | None]:
        """The random fault this request meets, if any, and its kind (under the lock)."""
        if not top_level and self._burst is not None:
            if self._burst == 0:
                return "burst", _throttled(self._rng)
            self._burst -= 1
        roll = self._rng.random
        rates = self.rates
        # The kinds added later roll only when asked for, so a spec of the first four
        # meets the very faults it met before for a seed.
        if top_level and paged and "nextlink" in rates and roll() < rates["nextlink"]:
            if roll() < 0.5:
                return "nextlink", Fault(drop=True)
            code, message = _DEFAULT_CODES[503]
            return "nextlink", Fault(status=503, code=code, message=message)
        if top_level and paged and "overlap" in rates and roll() < rates["overlap"]:
            return "overlap", Fault(overlap=self._rng.randint(1, 3))
        if top_level and path.endswith("/$batch"):
            # A burst ends with its batch: the next one meets the quota afresh.
            self._burst = None
            if "burst" in rates and roll() < rates["burst"]:
                self._burst = self._rng.randint(0, 19)
            if "batch" in rates and roll() < rates["batch"]:
                ways: list[BatchIds] = ["shuffled", "shuffled", "missing", "duplicate"]
                how = self._rng.choice(ways)
                return "batch", Fault(batch_ids=how)
        if top_level and "lost" in rates and roll() < rates["lost"]:
            return "lost", Fault(drop=True, after=True)
        if top_level and "malformed" in rates and roll() < rates["malformed"]:
            return "malformed", Fault(rewrite=_cut_short)
        if top_level and roll() < rates.get("drop", 0):
            return "drop", Fault(drop=True)
        if top_level and roll() < rates.get("slow", 0):
            return "slow", Fault(delay=self.slow_seconds)
        if roll() < rates.get("5xx", 0):
            status = self._rng.choice([503, 502, 504])
            code, message = _DEFAULT_CODES[status]
            return "5xx", Fault(status=status, code=code, message=message)
        if roll() < rates.get("429", 0):
            return "429", _throttled(self._rng)
        if (
            "late5xx" in rates
            and method.upper() not in ("GET", "HEAD")
            and roll() < rates["late5xx"]
        ):
            status = self._rng.choice([503, 502, 504])
            code, message = _DEFAULT_CODES[status]
            return "late5xx", Fault(status=status, code=code, message=message, after=True)
        return "", None

    def token_expires(self) -> bool:
        """Whether this top-level Graph request finds its token, if it served
        ``EXPIRE_AFTER`` requests, expired (``expire``)."""
        with self._lock:
            rate = self.rates.get("expire")
            expires = rate is not None and self._rng.random() < rate
            if expires:
                self.injected["expire"] += 1
            return expires

    def after_serving(
        self, fault: Fault | None, req: Request, resp: Response | None
    ) -> Response | None:
        """``resp`` as the fault spoils it once served; None to cut the connection instead
        (or when serving it already did: a ``$batch`` whose item was dropped)."""
        if resp is None or (fault is not None and fault.drop and fault.after):
            return None
        if fault is not None and fault.after and fault.status is not None:
            raise GraphHttpError(fault.status, fault.code, fault.message)
        if fault is not None and fault.rewrite is not None:
            return fault.rewrite(resp)
        body = resp.body
        if fault is not None and fault.batch_ids and isinstance(body, dict):
            with self._lock:
                _spoil_ids(body.get("responses"), fault.batch_ids, self._rng)
        if (
            self._pages is not None
            and req.method == "GET"
            and isinstance(body, dict)
            and isinstance(body.get("value"), list)
        ):
            with self._lock:
                before = self._pages.get(req.path, [])
                self._pages[req.path] = list(body["value"])
            if fault is not None and fault.overlap and before:
                body["value"] = before[-fault.overlap :] + body["value"]
        return resp


RANDOM_FAULTS = (
    "5xx", "429", "drop", "slow", "lost", "malformed", "batch", "burst", "overlap", "nextlink",
    "expire", "late5xx",
)  # fmt: skip


def _throttled(rng: random.Random) -> Fault:
    return Fault(
        status=429,
        code="TooManyRequests",
        message="Please retry again later.",
        retry_after=round(rng.uniform(0.2, 1.5), 3),
    )


def _cut_short(resp: Response) -> Response:
    """The answer as a proxy that lost the rest of it sends it: JSON cut off midway."""
    body, content_type = resp.encoded()
    if not body or "json" not in (content_type or ""):
        return resp  # a 204 has nothing to cut; a $count's digits cut short are still digits
    return Response(
        status=resp.status,
        body=body[: max(1, len(body) // 2)],
        headers=resp.headers,
        content_type=content_type,
    )


def _number(text: str, part: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{part!r}: {text!r} is not a number") from None
    if value != value:  # NaN passes every range check
        raise ValueError(f"{part!r}: {text!r} is not a number")
    return value


def _spoil_ids(responses: Any, how: BatchIds, rng: random.Random | None = None) -> None:
    if not isinstance(responses, list) or not responses:
        return
    if how == "shuffled":
        (rng or random.Random(0)).shuffle(responses)
    elif how == "foreign":
        for answer in responses:
            answer["id"] = f"{answer['id']}0"
    elif how == "duplicate" and len(responses) > 1:
        responses[1]["id"] = responses[0]["id"]
    elif how == "missing":
        responses.pop()
