"""Fault injection: targeted rules (for tests) and random rates (for soak runs and the demo).

Random spec, comma-separated: ``5xx=P`` (503/502/504), ``429=P`` (a throttle with a short
``Retry-After``), ``drop=P`` (close the connection without answering), ``slow=P:SECONDS``.
Targeted rules match method and a path regex, fire ``times`` times (-1: forever) and apply to
top-level requests and to items inside a ``$batch`` alike.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field


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
    hits: int = field(default=0, init=False)

    def matches(self, method: str, path: str) -> bool:
        if self.times == 0:
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
        self.parse(spec)

    def parse(self, spec: str) -> None:
        rates: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            key, sep, value = part.partition("=")
            if not sep or key not in ("5xx", "429", "drop", "slow"):
                raise ValueError(
                    f"unknown fault {part!r}; use 5xx=P, 429=P, drop=P or slow=P:SECONDS"
                )
            if key == "slow" and ":" in value:
                value, seconds = value.split(":", 1)
                self.slow_seconds = float(seconds)
            rate = float(value)
            if not 0 <= rate <= 1:
                raise ValueError(f"fault rate {rate} is not between 0 and 1")
            rates[key] = rate
        self.rates = rates

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self.rates = {}

    def decide(self, method: str, path: str, *, top_level: bool) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.hits += 1
                    if rule.times > 0:
                        rule.times -= 1
                    code, message = _DEFAULT_CODES.get(rule.status, ("Error", "Injected fault."))
                    return Fault(
                        status=None if rule.drop else rule.status,
                        code=rule.code or code,
                        message=rule.message or message,
                        retry_after=rule.retry_after,
                        drop=rule.drop,
                        delay=rule.delay,
                    )
            if not self.rates or "/_sandbox" in path:
                return None
            roll = self._rng.random
            if top_level and roll() < self.rates.get("drop", 0):
                return Fault(drop=True)
            if top_level and roll() < self.rates.get("slow", 0):
                return Fault(delay=self.slow_seconds)
            if roll() < self.rates.get("5xx", 0):
                status = self._rng.choice([503, 502, 504])
                code, message = _DEFAULT_CODES[status]
                return Fault(status=status, code=code, message=message)
            if roll() < self.rates.get("429", 0):
                return Fault(
                    status=429,
                    code="TooManyRequests",
                    message="Please retry again later.",
                    retry_after=round(self._rng.uniform(0.2, 1.5), 3),
                )
        return None
