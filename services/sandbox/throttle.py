"""Graph's throttling as documented (graph-api.md §8), on the sandbox clock.

Identity and access: resource units per 10 s per app+tenant by tenant size, a write quota of
3,000 per 150 s per app+tenant, 18,000 per 300 s per tenant and 35,000 per 300 s per app.
Conditional Access: one request per second per tenant, 429 without ``Retry-After``.
Windows slide over simulated time; ``Retry-After`` is handed out in real seconds.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from .clock import SimClock
from .config import SandboxConfig


class WindowCounter:
    """Costs admitted in the last ``window`` simulated seconds, against a quota."""

    def __init__(self, quota: float, window: float) -> None:
        self.quota = quota
        self.window = window
        self._events: deque[tuple[float, float]] = deque()
        self._used = 0.0

    def _expire(self, now: float) -> None:
        edge = now - self.window
        while self._events and self._events[0][0] <= edge:
            self._used -= self._events.popleft()[1]

    def used(self, now: float) -> float:
        self._expire(now)
        return self._used

    def wait_for(self, now: float, cost: float) -> float:
        """Simulated seconds until ``cost`` fits; 0 if it fits now."""
        self._expire(now)
        if self._used + cost <= self.quota:
            return 0.0
        need = self._used + cost - self.quota
        freed = 0.0
        for t, c in self._events:
            freed += c
            if freed >= need:
                return max(t + self.window - now, 0.001)
        return self.window

    def add(self, now: float, cost: float) -> None:
        self._events.append((now, cost))
        self._used += cost


@dataclass
class Verdict:
    """The throttling outcome for one request."""

    allowed: bool
    headers: dict[str, str] = field(default_factory=dict)
    retry_after_real: float | None = None
    scope: str = ""
    information: str = ""


def request_cost(method: str, path: str, query: dict[str, str]) -> tuple[int, int]:
    """(resource units, writes) per the cost table in TL."""
    if method != "GET":
        return 1, 1
    tail = path.split("/", 2)[-1] if path.count("/") >= 2 else path
    base = 1
    if tail in ("users", "applications") or tail.endswith(
        ("memberOf/microsoft.graph.directoryRole",)
    ):
        base = 2
    elif tail == "subscribedSkus":
        base = 3
    if "$select" in query:
        base -= 1
    if "$expand" in query:
        base += 1
    top = query.get("$top")
    if top and top.isdigit() and int(top) < 20:
        base -= 1
    return max(base, 1), 0


def category(path: str, mfa_limit: str) -> str:
    if "/identity/conditionalAccess/" in path:
        return "ca"
    if path.endswith("/authentication/requirements") and mfa_limit == "reports":
        return "reports"
    return "identity"


class Throttle:
    """Admits or throttles requests; thread-safe."""

    def __init__(self, config: SandboxConfig, clock: SimClock, tenant_size: int) -> None:
        self.clock = clock
        self.config = config
        self._lock = threading.Lock()
        ru = config.ru_quota or (3500 if tenant_size < 50 else 5000 if tenant_size <= 500 else 8000)
        self.ru = WindowCounter(ru, 10.0)
        self.app_ru = WindowCounter(150000, 20.0)
        self.writes = WindowCounter(*config.write_quota)
        self.tenant_writes = WindowCounter(*config.tenant_write_quota)
        self.app_writes = WindowCounter(*config.app_write_quota)
        self.ca = WindowCounter(1, 1.0 / config.ca_requests_per_second)
        self.reports = WindowCounter(5, 10.0)

    def check(
        self, method: str, path: str, query: dict[str, str], app_id: str, tenant_id: str
    ) -> Verdict:
        cat = category(path, self.config.mfa_limit)
        now = self.clock.now()
        with self._lock:
            if cat == "ca":
                wait = self.ca.wait_for(now, 1)
                if wait:
                    # TL: these resources "don't return a Retry-After header on 429".
                    return Verdict(False, scope=f"Tenant/ReadWrite/{app_id}/{tenant_id}")
                self.ca.add(now, 1)
                return Verdict(True)
            if cat == "reports":
                wait = self.reports.wait_for(now, 1)
                if wait:
                    return self._throttled(
                        wait,
                        f"Tenant_Application/ReadWrite/{app_id}/{tenant_id}",
                        "RequestLimitExceeded",
                    )
                self.reports.add(now, 1)
                return Verdict(True)
            ru, writes = request_cost(method, path, query)
            limits: list[tuple[WindowCounter, float, str, str]] = [
                (
                    self.ru,
                    ru,
                    f"Tenant_Application/ReadWrite/{app_id}/{tenant_id}",
                    "ResourceUnitLimitExceeded",
                ),
                (self.app_ru, ru, f"Application/ReadWrite/{app_id}", "ResourceUnitLimitExceeded"),
            ]
            if writes:
                limits += [
                    (
                        self.writes,
                        writes,
                        f"Tenant_Application/Write/{app_id}/{tenant_id}",
                        "WriteLimitExceeded",
                    ),
                    (self.tenant_writes, writes, f"Tenant/Write/{tenant_id}", "WriteLimitExceeded"),
                    (self.app_writes, writes, f"Application/Write/{app_id}", "WriteLimitExceeded"),
                ]
            for counter, cost, scope, info in limits:
                wait = counter.wait_for(now, cost)
                if wait:
                    return self._throttled(wait, scope, info)
            for counter, cost, _, _ in limits:
                counter.add(now, cost)
            headers = {"x-ms-resource-unit": str(ru)}
            pct = max(c.used(now) / c.quota for c, _, _, _ in limits)
            if pct > 0.8:
                headers["x-ms-throttle-limit-percentage"] = f"{pct:.2f}"
            return Verdict(True, headers=headers)

    def _throttled(self, wait_sim: float, scope: str, info: str) -> Verdict:
        real = max(self.clock.to_real(wait_sim), 0.001)
        return Verdict(
            False,
            headers={
                "Retry-After": f"{real:.3f}",
                "x-ms-throttle-scope": scope,
                "x-ms-throttle-information": info,
                "x-ms-throttle-limit-percentage": "1.00",
            },
            retry_after_real=real,
            scope=scope,
            information=info,
        )
