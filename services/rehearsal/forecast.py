"""How long the real close-out will take: Graph's quotas and a realistic latency, not the
replica's compressed clock.

A rehearsal runs at compressed time, so the replica's clock cannot say how long the work takes
at Graph. The counts it measured can: a bulk step's writes are bound by the app+tenant write
quota (:mod:`services.graph_limits`; 3,000 per 150 s), Conditional Access by its one request
per second, the reads by their round trips. The model is the write pacer's
(:mod:`services.pacing`): the first ``quota`` writes go out at once, ``concurrency`` batches of
20 in flight, and a write's slot comes back one window after its answer, so each further
quota's worth waits a window and a round trip. ``write_floor`` is the quota's own floor, the
least any client could take; ``write_seconds`` adds the round trips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from services.graph_limits import CA_REQUESTS_PER_SECOND, WRITE_QUOTA

__all__ = [
    "DEFAULT_LATENCY",
    "DEPROVISION_SECONDS",
    "SYNC_OFF_SECONDS",
    "Pace",
    "step_seconds",
    "write_floor",
    "write_seconds",
]

DEFAULT_LATENCY = 0.5
"""Seconds per Graph round trip, a ``$batch`` of 20 included (an assumption; ``--latency-ms``)."""
SYNC_OFF_SECONDS = 72 * 3600.0
"""Turning directory sync off "may take up to 72 hours" (graph-api.md §2.2)."""
DEPROVISION_SECONDS = 72 * 3600.0
"""A subscription deleted in the admin center is deprovisioned 72 hours later (§4)."""


@dataclass(frozen=True)
class Pace:
    """What sets the speed at Graph: its quota, and how closeout sends."""

    write_quota: int = WRITE_QUOTA[0]
    write_window: float = WRITE_QUOTA[1]
    concurrency: int = 8
    batch_size: int = 20
    latency: float = DEFAULT_LATENCY
    ca_per_second: float = CA_REQUESTS_PER_SECOND


def write_floor(n: int, pace: Pace) -> float:
    """The least time ``n`` writes take under the quota: a window per further quota's worth."""
    return math.floor((n - 1) / pace.write_quota) * pace.write_window if n > 0 else 0.0


def _rounds(n: int, pace: Pace) -> int:
    """Round trips to send ``n`` writes with ``concurrency`` batches in flight."""
    return math.ceil(math.ceil(n / pace.batch_size) / pace.concurrency)


def write_seconds(n: int, pace: Pace) -> float:
    """How long ``n`` paced writes take, round trips included."""
    if n <= 0:
        return 0.0
    full = (n - 1) // pace.write_quota
    last = n - full * pace.write_quota
    quota_bound = full * (pace.write_window + pace.latency) + _rounds(last, pace) * pace.latency
    return max(quota_bound, _rounds(n, pace) * pace.latency)


def step_seconds(writes: int, ca_writes: int, reads: int, pace: Pace) -> float:
    """A step's working time: its paced writes, its Conditional Access writes one per second,
    and its reads one round trip each."""
    return write_seconds(writes, pace) + ca_writes / pace.ca_per_second + reads * pace.latency
