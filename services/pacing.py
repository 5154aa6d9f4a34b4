"""Client-side pacing to Graph's identity write quota, so that our own writes never see a 429.

Graph allows 3,000 writes per 150 s per app and tenant (graph-api.md §8.2). Graph counts a
write when the request reaches it, which is somewhere between the moment we send it and the
moment its answer arrives; we cannot know exactly when. :class:`WritePacer` therefore keeps a
window that always holds at least what Graph's holds: a write occupies our window from the
moment its slot is granted (before the journal's fsync, before it is sent: no later than Graph
can count it) until one window after its answer arrived (no earlier than Graph forgets it). As
long as our window never holds more than the quota, neither does Graph's, however long a write
waited between its grant and its send (a journal fsync, a busy lock, a garbage-collection
pause). The same bound holds if Graph's "token bucket" is a bucket of the quota that refills
steadily over the window rather than a sliding window: it admits all a sliding window admits.

Because the model is conservative, the whole quota is used (no headroom by default): a burst
of ``quota`` writes goes out at once (the window, not our pacing, sets the floor for N writes),
then each new write waits until an old one has left the window.

Our own writes can then not be throttled by the app+tenant quota, but others' can still make
Graph throttle us: other tools signed in with the same public client in the same tenant share
that quota, all apps share the tenant's 18,000 per 5 minutes, and Graph throttles "when the
services are under an important load" (TL). So the pacer also listens to Graph.
``x-ms-throttle-limit-percentage`` (sent only above 80 % of a limit) that our own window does
not explain is someone else's load: it lowers the effective quota and spreads writes evenly.
A 429's ``Retry-After`` holds all writes; a 429 for a write sent after we had just held for
another is evidence that the pace is too high for today's Graph, and lowers the quota too. One
429 alone only holds: its cause may be gone by the time the hold ends. Pressure fades
gradually once the signals stop.

Every wait goes through a ``sleeper`` that is interruptible by a stop, and the clock is
injectable, so the pacer is tested on a fake clock without sleeping.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Grant", "PacerStatus", "Stoppable", "WritePacer"]

log = logging.getLogger("closeout.pacing")

# When Graph reports pressure p (1.0 = throttling starts) we aim our share at this level.
_TARGET_PRESSURE = 0.85
# Below this reading we hold steady instead of backing off (the header starts at 0.8).
_BACKOFF_FROM = 0.9
# A reading within this of our own window's fill is our own doing, not someone else's.
_OWN_TOLERANCE = 0.05
# Guards float rounding at window edges, so a waiter never wakes a hair early and spins.
_EPSILON = 1e-6


class Stoppable(Protocol):
    """What the pacer waits on: ``threading.Event`` or :class:`services.control.RunControl`.

    ``wait(t)`` sleeps up to ``t`` seconds and returns True if a stop was (or is) requested.
    """

    def wait(self, timeout: float, /) -> bool: ...


Sleeper = Callable[[float, Stoppable], bool]


def _default_sleeper(seconds: float, stop: Stoppable) -> bool:
    return stop.wait(seconds)


@dataclass(frozen=True)
class PacerStatus:
    """A snapshot for the UI's throttle gauge."""

    in_window: int
    capacity: int
    quota: int
    window: float
    pressure_factor: float
    held_for: float
    in_flight: int = 0


@dataclass(eq=False)
class Grant:
    """``n`` write slots granted at ``at`` (pacer clock). Tell the pacer how it ended:
    :meth:`WritePacer.answered` once the request's answer (or its failure) is in, or
    :meth:`WritePacer.cancel` if it was certainly never sent."""

    n: int
    at: float
    open: bool = field(default=True, repr=False)
    # Our window's count just after this grant, and how many writes had been granted in all.
    seen: int = field(default=0, repr=False)
    granted_total: int = field(default=0, repr=False)

    def __bool__(self) -> bool:
        return self.n > 0


class WritePacer:
    """Write limiter for one app+tenant, shared by all batch workers. Thread-safe."""

    def __init__(
        self,
        quota: int = 3000,
        window: float = 150.0,
        *,
        headroom: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleeper: Sleeper | None = None,
        min_factor: float = 0.25,
        recovery_delay: float | None = None,
        recovery_time: float | None = None,
    ) -> None:
        if quota < 1 or window <= 0:
            raise ValueError("quota must be >= 1 and window > 0")
        if not 0 < headroom <= 1:
            raise ValueError("headroom must be in (0, 1]")
        self.quota = quota
        self.window = float(window)
        self.headroom = headroom
        self.min_factor = min_factor
        # Pressure starts to fade a tenth of a window after the last high reading and is gone
        # half a window later: long enough for Graph's own window to drain what we sent.
        self.recovery_delay = window / 10 if recovery_delay is None else recovery_delay
        self.recovery_time = window / 2 if recovery_time is None else recovery_time
        self._clock = clock
        self._sleeper = sleeper or _default_sleeper
        self._lock = threading.Lock()
        # Answered writes, (leaves the window at, count), in the order they leave it.
        self._settled: deque[tuple[float, int]] = deque()
        self._settled_count = 0
        self._in_flight = 0
        self._granted_total = 0
        self._hold_until = -math.inf
        self._last_hold_at: float | None = None
        self._pressure_floor = 1.0
        self._pressure_at: float | None = None
        self._next_slot = -math.inf

    # -- reading ---------------------------------------------------------------------------

    def in_window(self) -> int:
        """Writes that may still be in Graph's window: in flight, or answered within a window."""
        with self._lock:
            self._prune(self._clock())
            return self._count

    @property
    def capacity(self) -> int:
        """The current effective quota: ``quota * headroom`` lowered by observed pressure."""
        with self._lock:
            return self._capacity(self._clock())

    def available(self) -> int:
        """How many writes would go out right now without waiting (0 while held or spaced)."""
        with self._lock:
            now = self._clock()
            if self._hold_until > now or (self._factor(now) < 1.0 and self._next_slot > now):
                return 0
            self._prune(now)
            return self._room(now)

    def status(self) -> PacerStatus:
        with self._lock:
            now = self._clock()
            self._prune(now)
            return PacerStatus(
                in_window=self._count,
                capacity=self._capacity(now),
                quota=self.quota,
                window=self.window,
                pressure_factor=self._factor(now),
                held_for=max(0.0, self._hold_until - now),
                in_flight=self._in_flight,
            )

    # -- writing ---------------------------------------------------------------------------

    def acquire(self, n: int, stop: Stoppable) -> Grant | None:
        """Block until ``n`` more writes fit and grant them; None if stopped first.

        ``n`` larger than the whole capacity is let through once the window is empty, so a
        lowered capacity can never deadlock a batch. ``n <= 0`` grants nothing (an empty
        grant, or None if stopped).
        """
        if n <= 0:
            return None if stop.wait(0) else Grant(0, self._clock(), open=False)
        return self._acquire(n, n, stop)

    def acquire_up_to(self, n: int, stop: Stoppable) -> Grant | None:
        """Block until at least one write fits, grant as many as fit (at most ``n``).

        None if stopped. The batch executor uses it so that a worker holding a full batch
        never waits for 20 free slots while fewer are free: it sends what fits and puts the
        rest back, which keeps the window full.
        """
        if n <= 0:
            return None
        return self._acquire(n, 1, stop)

    def answered(self, grant: Grant | None) -> None:
        """The request carrying ``grant`` got its answer (any status) or failed in transit.

        From now its writes stay in the window one more window: Graph counted them at the
        latest now. A failure in transit is treated the same way (the request may have
        arrived). Calling it again, or after :meth:`cancel`, does nothing.
        """
        self._close(grant, sent=True)

    def cancel(self, grant: Grant | None) -> None:
        """The request carrying ``grant`` was certainly never sent: give its slots back."""
        self._close(grant, sent=False)

    def _close(self, grant: Grant | None, *, sent: bool) -> None:
        if grant is None:
            return
        with self._lock:
            if not grant.open:
                return
            grant.open = False
            self._in_flight -= grant.n
            if sent:
                # The clock never goes back, so the deque stays in leaving order.
                self._settled.append((self._clock() + self.window, grant.n))
                self._settled_count += grant.n

    def _acquire(self, n: int, at_least: int, stop: Stoppable) -> Grant | None:
        while True:
            if stop.wait(0):
                return None
            with self._lock:
                now = self._clock()
                delay = self._delay(at_least, now)
                if delay <= 0:
                    granted = max(at_least, min(n, self._room(now)))
                    self._record(granted, now)
                    return Grant(granted, now, seen=self._count, granted_total=self._granted_total)
            if self._sleeper(delay + _EPSILON, stop):
                return None

    def hold(self, seconds: float, *, sent_at: float | None = None) -> None:
        """After a 429: no write goes out before ``now + seconds``.

        ``sent_at`` is when the throttled request's slots were granted (:attr:`Grant.at`).
        If it was granted after an earlier 429 had been held for, and is throttled again
        soon after that hold ended (within ``recovery_delay``), the hold did not cure the
        throttling: that counts as pressure and lowers the effective quota (a little more with
        each such 429). A 429 for a request that was already on its way when we learned of
        the earlier one is the same event, not a new one; so is a lone 429 long after another.
        """
        if seconds <= 0:
            return
        with self._lock:
            now = self._clock()
            last = self._last_hold_at
            repeated = (
                sent_at is not None
                and last is not None
                and sent_at >= last
                and now <= max(self._hold_until, last) + self.recovery_delay
            )
            if sent_at is None or last is None or sent_at >= last:
                self._last_hold_at = now
            self._hold_until = max(self._hold_until, now + seconds)
            if repeated:
                self._pressure_floor = max(self.min_factor, self._factor(now) * _TARGET_PRESSURE)
                # Recovery starts when the hold ends, not while writes are still held.
                self._pressure_at = self._hold_until
                log.info(
                    "throttled again right after a hold: pacing to %d writes per window",
                    self._capacity(now),
                )

    def observe(self, limit_percentage: float | None, grant: Grant | None = None) -> None:
        """Feed Graph's ``x-ms-throttle-limit-percentage`` (None when the header was absent).

        0.8–0.9: hold the current pace. From 0.9 up: lower the effective quota to
        ``0.85 / p`` of normal (1.0 → 85 %, 1.8 → 47 %) and space writes evenly, unless the
        reading is at most 1.0 and matches how full our own window was (then it is just us
        using the quota we pace to). Absent: the pressure fades over time (see
        ``recovery_delay`` and ``recovery_time``). Feed it readings from answers that were
        not throttled, with the ``grant`` of the request that got the answer: a 429's
        reading is handled by :meth:`hold`.
        """
        if limit_percentage is None or limit_percentage != limit_percentage:  # None or NaN
            return
        with self._lock:
            now = self._clock()
            self._prune(now)
            own = self._own_share(grant)
            if limit_percentage >= _BACKOFF_FROM:
                if limit_percentage <= 1.0 + _EPSILON and limit_percentage <= own + _OWN_TOLERANCE:
                    # Our own full window explains the reading, and the window already
                    # keeps us at or below the limit; backing off would only waste quota.
                    return
                self._apply_pressure(limit_percentage, now)
                log.info(
                    "Graph reports %.2f of a limit, more than our writes explain: pacing to %d "
                    "writes per window",
                    limit_percentage,
                    self._capacity(now),
                )
            elif self._pressure_at is not None:
                # Near the limit but not over it: keep the pace we have, postpone recovery.
                self._pressure_floor = self._factor(now)
                self._pressure_at = now

    # -- internals (lock held) -------------------------------------------------------------

    @property
    def _count(self) -> int:
        return self._in_flight + self._settled_count

    def _own_share(self, grant: Grant | None) -> float:
        """The most of the quota our writes can have filled when Graph took its reading.

        Graph read its window at some moment between the grant and the answer, and our
        window may have emptied since (at the start of a burst writes leave it quickly): so
        not just today's count, but the count at the grant plus all granted since.
        """
        count = self._count
        if grant is not None:
            count = max(count, grant.seen + self._granted_total - grant.granted_total)
        return count / self.quota

    def _apply_pressure(self, p: float, now: float) -> None:
        target = max(self.min_factor, min(1.0, _TARGET_PRESSURE / p))
        self._pressure_floor = min(self._factor(now), target)
        self._pressure_at = now

    def _factor(self, now: float) -> float:
        if self._pressure_at is None:
            return 1.0
        elapsed = now - self._pressure_at - self.recovery_delay
        if elapsed <= 0:
            return self._pressure_floor
        if self.recovery_time <= 0 or elapsed >= self.recovery_time:
            self._pressure_at = None
            self._pressure_floor = 1.0
            return 1.0
        return self._pressure_floor + (1.0 - self._pressure_floor) * elapsed / self.recovery_time

    def _capacity(self, now: float) -> int:
        return max(1, math.floor(self.quota * self.headroom * self._factor(now) + _EPSILON))

    def _prune(self, now: float) -> None:
        settled = self._settled
        while settled and settled[0][0] <= now:
            self._settled_count -= settled.popleft()[1]

    def _room(self, now: float) -> int:
        return max(0, self._capacity(now) - self._count)

    def _delay(self, n: int, now: float) -> float:
        """Seconds until ``n`` writes may go (<= 0: now)."""
        self._prune(now)
        capacity = self._capacity(now)
        count = self._count
        delay = self._hold_until - now
        if count and count + n > capacity:
            # A batch larger than the whole capacity waits for an empty window.
            excess = count + n - capacity if n <= capacity else count
            leaves_at = None
            freed = 0
            for t, k in self._settled:
                freed += k
                if freed >= excess:
                    leaves_at = t
                    break
            if leaves_at is None:
                # Writes still in flight must make room too: each leaves a window after its
                # answer, so not before a window from now (and after every answered one).
                last = self._settled[-1][0] if self._settled else now
                leaves_at = max(last, now + self.window)
            delay = max(delay, leaves_at - now)
        if self._factor(now) < 1.0:
            delay = max(delay, self._next_slot - now)
        return delay

    def _record(self, n: int, now: float) -> None:
        self._in_flight += n
        self._granted_total += n
        if self._factor(now) < 1.0:
            # Under pressure, spread the reduced capacity evenly over the window.
            interval = n * self.window / self._capacity(now)
            self._next_slot = max(now, self._next_slot) + interval
        else:
            self._next_slot = -math.inf
