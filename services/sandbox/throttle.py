"""Graph's throttling as documented (graph-api.md §8), on the sandbox clock.

Identity and access: resource units per 10 s per app+tenant by tenant size, a write quota of
3,000 per 150 s per app+tenant, 18,000 per 300 s per tenant and 35,000 per 300 s per app; each
limit is counted separately for each app (the sandbox has one tenant), so another app's writes
never use up closeout's app+tenant quota, only the tenant's. Conditional Access: one request per
second per tenant, 429 without ``Retry-After``. Limits slide over simulated time;
``Retry-After`` is handed out in real seconds.

TL calls the identity limits a "token bucket" whose summed request costs are "compared against
predetermined limits", which leaves open how the quota comes back (graph-api.md §8.2). The
``write_limit`` switch plays both readings: ``window`` (the default, the stricter) admits a
request if the costs admitted in the last window plus its own stay within the quota;
``bucket`` starts with a full bucket of ``quota`` tokens that refills steadily, ``quota`` per
window. A client that survives ``window`` survives ``bucket``.

Every refusal is logged (:meth:`Throttle.refusals`), so that a benchmark can tell a 429 that
closeout's own pacing caused (``WriteLimitExceeded`` on its app+tenant pair) from injected ones,
and every admitted write's time is kept per app for :meth:`Throttle.max_writes_in_window`.
"""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field

from services.graph_limits import REPORTS_LIMIT, RU_WINDOW, ru_budget

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


class BucketCounter:
    """A token bucket of ``quota`` tokens, refilled at ``quota / window`` per simulated second."""

    def __init__(self, quota: float, window: float) -> None:
        self.quota = quota
        self.window = window
        self._rate = quota / window
        self._tokens = float(quota)
        self._at: float | None = None

    def _refill(self, now: float) -> None:
        if self._at is not None and now > self._at:
            self._tokens = min(self.quota, self._tokens + (now - self._at) * self._rate)
        self._at = now if self._at is None else max(self._at, now)

    def used(self, now: float) -> float:
        self._refill(now)
        return self.quota - self._tokens

    def wait_for(self, now: float, cost: float) -> float:
        self._refill(now)
        if self._tokens + 1e-9 >= cost:
            return 0.0
        return max((cost - self._tokens) / self._rate, 0.001)

    def add(self, now: float, cost: float) -> None:
        self._refill(now)
        self._tokens -= cost


Counter = WindowCounter | BucketCounter


@dataclass(frozen=True)
class Quota:
    """One documented limit: ``quota`` per ``window`` simulated seconds."""

    quota: float
    window: float


@dataclass(frozen=True)
class Refusal:
    """One request the throttle answered with 429."""

    sim_time: float
    app_id: str
    method: str
    path: str
    scope: str
    information: str

    @property
    def write_quota_exceeded(self) -> bool:
        """Refused for the app+tenant write quota: only that app's own writes fill it."""
        return self.scope.startswith("Tenant_Application/Write/")


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
    # TL: memberOf and transitiveMemberOf both cost 2 (the path's case is the client's).
    if tail in ("users", "applications") or tail.lower().endswith(
        "memberof/microsoft.graph.directoryrole"
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
        self.ru = Quota(config.ru_quota or ru_budget(tenant_size), RU_WINDOW)
        self.app_ru = Quota(150000, 20.0)
        self.writes = Quota(*config.write_quota)
        self.tenant_writes = Quota(*config.tenant_write_quota)
        self.app_writes = Quota(*config.app_write_quota)
        self.ca = WindowCounter(1, 1.0 / config.ca_requests_per_second)
        self.reports = WindowCounter(*REPORTS_LIMIT)
        self._counters: dict[tuple[str, str], Counter] = {}
        self._refusals: list[Refusal] = []
        self._admitted_writes: dict[str, list[float]] = defaultdict(list)

    def _counter(self, name: str, key: str) -> Counter:
        """The counter of limit ``name`` (an attribute holding a :class:`Quota`) for ``key``."""
        counter = self._counters.get((name, key))
        if counter is None:
            limit: Quota = getattr(self, name)
            kind = BucketCounter if self.config.write_limit == "bucket" else WindowCounter
            counter = kind(limit.quota, limit.window)
            self._counters[(name, key)] = counter
        return counter

    # -- what the benchmark and tests read -------------------------------------------------

    def refusals(self) -> list[Refusal]:
        with self._lock:
            return list(self._refusals)

    def admitted_writes(self, app_id: str | None = None) -> list[float]:
        """Simulated times at which writes were counted (of one app, or of all), in order."""
        with self._lock:
            if app_id is not None:
                return list(self._admitted_writes.get(app_id, ()))
            return sorted(t for times in self._admitted_writes.values() for t in times)

    def max_writes_in_window(self, window: float, app_id: str | None = None) -> int:
        """The most writes counted in any ``window`` simulated seconds, as the quota saw them."""
        times = self.admitted_writes(app_id)
        best = lo = 0
        for hi, t in enumerate(times):
            while times[lo] <= t - window:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    # -- admission ----------------------------------------------------------------------------

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
                    scope = f"Tenant/ReadWrite/{app_id}/{tenant_id}"
                    self._refused(now, app_id, method, path, scope, "")
                    return Verdict(False, scope=scope)
                self.ca.add(now, 1)
                return Verdict(True)
            if cat == "reports":
                wait = self.reports.wait_for(now, 1)
                if wait:
                    return self._throttled(
                        now,
                        wait,
                        (app_id, method, path),
                        f"Tenant_Application/ReadWrite/{app_id}/{tenant_id}",
                        "RequestLimitExceeded",
                    )
                self.reports.add(now, 1)
                return Verdict(True)
            ru, writes = request_cost(method, path, query)
            limits: list[tuple[Counter, float, str, str]] = [
                (
                    self._counter("ru", app_id),
                    ru,
                    f"Tenant_Application/ReadWrite/{app_id}/{tenant_id}",
                    "ResourceUnitLimitExceeded",
                ),
                (
                    self._counter("app_ru", app_id),
                    ru,
                    f"Application/ReadWrite/{app_id}",
                    "ResourceUnitLimitExceeded",
                ),
            ]
            if writes:
                limits += [
                    (
                        self._counter("writes", app_id),
                        writes,
                        f"Tenant_Application/Write/{app_id}/{tenant_id}",
                        "WriteLimitExceeded",
                    ),
                    (
                        self._counter("tenant_writes", ""),
                        writes,
                        f"Tenant/Write/{tenant_id}",
                        "WriteLimitExceeded",
                    ),
                    (
                        self._counter("app_writes", app_id),
                        writes,
                        f"Application/Write/{app_id}",
                        "WriteLimitExceeded",
                    ),
                ]
            for counter, cost, scope, info in limits:
                wait = counter.wait_for(now, cost)
                if wait:
                    return self._throttled(now, wait, (app_id, method, path), scope, info)
            for counter, cost, _, _ in limits:
                counter.add(now, cost)
            if writes:
                self._admitted_writes[app_id].append(now)
            headers = {"x-ms-resource-unit": str(ru)}
            pct = max(c.used(now) / c.quota for c, _, _, _ in limits)
            if pct > 0.8:
                headers["x-ms-throttle-limit-percentage"] = f"{pct:.2f}"
            return Verdict(True, headers=headers)

    def _refused(
        self, now: float, app_id: str, method: str, path: str, scope: str, info: str
    ) -> None:
        self._refusals.append(Refusal(now, app_id, method, path, scope, info))

    def _throttled(
        self, now: float, wait_sim: float, request: tuple[str, str, str], scope: str, info: str
    ) -> Verdict:
        self._refused(now, *request, scope, info)
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
