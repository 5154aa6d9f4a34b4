"""Per-user MFA states for a snapshot (``closeout snapshot --mfa``): batched beta reads, paced.

``GET /beta/users/{id}/authentication/requirements`` has no list form, so a tenant of N users
takes N reads, 20 to a ``/beta/$batch`` (graph-api.md §5.1, §7). Which limit governs them is
unconfirmed: as identity reads they cost 1 resource unit each against the tenant's budget per
10 s (3,500 / 5,000 / 8,000 by size); as "identity and access reports" only 5 requests per
10 s are allowed. :func:`estimate` gives the admin both durations before anything is read.
Reads start at half the identity budget (the other half stays free for anyone else working in
the tenant); the first 429 shows the stricter limit applies, and from then on batches of 5 go
out one window apart. Every 429 is waited out for its own ``Retry-After``.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from services import endpoints
from services.control import RunControl
from services.errors import GraphError, NetworkError, Stopped, parse_retry_after
from services.graph.bounds import MAX_BATCH
from services.graph.client import GraphClient
from services.graph.responses import GraphResponse
from services.graph_limits import REPORTS_LIMIT, RU_WINDOW, ru_budget

__all__ = ["MfaEstimate", "MfaRead", "estimate", "read_mfa_states"]

MFA = endpoints.MFA_STATE
# Share of the resource-unit budget the reads may take: the rest is left to others.
IDENTITY_SHARE = 0.5
MAX_ATTEMPTS = 5

Progress = Callable[[int, int, float | None], None]
"""``progress(done, total, eta_seconds)``, after every batch."""


@dataclass(frozen=True)
class MfaEstimate:
    users: int
    requests: int
    batches: int
    identity_seconds: float
    """At half the tenant's resource-unit budget (1 RU per read)."""
    reports_seconds: float
    """If the reports limit (5 per 10 s) governs these reads."""


def _identity_rate(tenant_users: int) -> float:
    """Reads per second at the identity pace."""
    return ru_budget(tenant_users) * IDENTITY_SHARE / RU_WINDOW


def _reports_rate() -> float:
    quota, window = REPORTS_LIMIT
    return quota / window


def estimate(n_users: int, tenant_users: int, latency: float = 0.5) -> MfaEstimate:
    """How long reading ``n_users`` states takes at each limit (real Graph seconds)."""
    batches = math.ceil(n_users / MAX_BATCH)
    fast = max(n_users / _identity_rate(tenant_users), batches * latency)
    slow = max(n_users - REPORTS_LIMIT[0], 0) / _reports_rate() + latency
    return MfaEstimate(n_users, n_users, batches, fast, slow if n_users else 0.0)


@dataclass
class MfaRead:
    states: dict[str, str] = field(default_factory=dict)
    """User id → ``disabled``, ``enabled`` or ``enforced`` (as Graph said)."""
    gone: list[str] = field(default_factory=list)
    """Users deleted while the states were read (404)."""
    failed: dict[str, str] = field(default_factory=dict)
    """User id → why its state could not be read."""
    reports_limit: bool = False
    """Whether Graph throttled as if the reports limit applied."""
    requests: int = 0


class _Window:
    """At most ``quota`` reads per ``window`` seconds, counted from each batch's answer."""

    def __init__(self, quota: int, window: float, clock: Callable[[], float]) -> None:
        self.quota = quota
        self.window = window
        self._clock = clock
        self._sent: deque[tuple[float, int]] = deque()

    def room(self) -> tuple[int, float]:
        """(reads that may go now, seconds until more may)."""
        now = self._clock()
        while self._sent and self._sent[0][0] <= now - self.window:
            self._sent.popleft()
        used = sum(n for _, n in self._sent)
        if used < self.quota:
            return self.quota - used, 0.0
        return 0, self._sent[0][0] + self.window - now

    def add(self, n: int) -> None:
        self._sent.append((self._clock(), n))


def read_mfa_states(
    client: GraphClient,
    user_ids: Sequence[str],
    *,
    tenant_users: int,
    control: RunControl,
    time_scale: float = 1.0,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> MfaRead:
    """Every user's per-user MFA state. A 403 on the first batch (no permission, no role)
    raises it; a stop raises :class:`Stopped`. ``time_scale``: a sandbox's fast clock."""
    result = MfaRead()
    fast = max(1, int(_identity_rate(tenant_users) * RU_WINDOW))
    window = _Window(fast, RU_WINDOW / time_scale, clock)
    queue: deque[str] = deque(user_ids)
    attempts: dict[str, int] = {}
    started = clock()
    total = len(user_ids)
    while queue:
        if not control.checkpoint():
            raise Stopped()
        room, wait = window.room()
        if room == 0:
            if control.wait(wait):
                raise Stopped()
            continue
        batch = [queue.popleft() for _ in range(min(room, MAX_BATCH, len(queue)))]
        subs = [
            {"id": str(n), "method": MFA.method, "url": MFA.url(id=uid)}
            for n, uid in enumerate(batch, 1)
        ]
        result.requests += len(batch)
        try:
            resp = client.post_batch(subs, version=MFA.version)
        except NetworkError:
            _retry(batch, queue, attempts, result, "network error")
            if control.wait(1.0 / time_scale):
                raise Stopped() from None
            continue
        window.add(len(batch))
        hold = _judge(resp, batch, queue, attempts, result)
        if hold is not None:
            if not result.reports_limit:
                # The identity pace was too fast for Graph: the reports limit governs.
                result.reports_limit = True
                quota, span = REPORTS_LIMIT
                window = _Window(quota, span / time_scale, clock)
                window.add(quota)
            if control.wait(hold):
                raise Stopped()
        if progress is not None:
            done = len(result.states) + len(result.gone) + len(result.failed)
            rate = done / max(clock() - started, 1e-6)
            remaining = total - done
            eta = remaining / rate if rate > 0 and done else None
            if result.reports_limit:
                eta = remaining / (_reports_rate() * time_scale)
            progress(done, total, eta)
    return result


def _retry(
    batch: Sequence[str], queue: deque[str], attempts: dict[str, int], result: MfaRead, why: str
) -> None:
    for uid in batch:
        attempts[uid] = attempts.get(uid, 0) + 1
        if attempts[uid] >= MAX_ATTEMPTS:
            result.failed[uid] = why
        else:
            queue.append(uid)


def _judge(
    resp: GraphResponse,
    batch: Sequence[str],
    queue: deque[str],
    attempts: dict[str, int],
    result: MfaRead,
) -> float | None:
    """Settle each item of one batch answer; the seconds to hold if Graph throttled."""
    if resp.status == 429:
        queue.extendleft(reversed(batch))
        return resp.retry_after or 1.0
    if resp.status != 200:
        if resp.status >= 500:
            _retry(batch, queue, attempts, result, f"HTTP {resp.status}")
            return None
        raise resp.error()
    body = resp.json()
    answers = {
        str(r.get("id")): r
        for r in (body.get("responses") if isinstance(body, dict) else None) or []
        if isinstance(r, dict)
    }
    hold: float | None = None
    for n, uid in enumerate(batch, 1):
        sub = answers.get(str(n))
        status = int(sub.get("status") or 0) if sub else 0
        sub_body = sub.get("body") if sub else None
        if status == 200 and isinstance(sub_body, dict):
            result.states[uid] = str(sub_body.get("perUserMfaState") or "unknown")
        elif status == 404:
            result.gone.append(uid)
        elif status == 429:
            headers = {str(k).lower(): v for k, v in ((sub or {}).get("headers") or {}).items()}
            queue.appendleft(uid)
            retry = parse_retry_after(str(headers.get("retry-after") or "") or None)
            hold = max(hold or 0.0, retry or 1.0)
        elif status == 403 and not result.states:
            error = sub_body.get("error") if isinstance(sub_body, dict) else None
            error = error if isinstance(error, dict) else {}
            raise GraphError(
                403,
                str(error.get("code") or "Forbidden"),
                str(error.get("message") or "Reading per-user MFA states was refused."),
                method="GET",
                path=f"/{MFA.version}{MFA.path}",
            )
        elif status in (0, 424) or status >= 500:
            _retry([uid], queue, attempts, result, f"HTTP {status or 'no answer'}")
        else:
            result.failed[uid] = f"HTTP {status}"
    return hold
