"""Client-side pacing to Graph's identity write quota, so that bulk deletes rarely see a 429.

Graph allows 3,000 writes per 150 s per app and tenant (graph-api.md §8.2), counted in a
sliding window. :class:`WritePacer` keeps the same sliding window on our side: a burst of up to
``quota * headroom`` writes goes out at once (the window, not our pacing, sets the floor for N
writes), then each new write waits until an old one ages out. It also listens to Graph:
``x-ms-throttle-limit-percentage`` (sent only above 80 % of a limit) lowers the effective quota
and spreads writes evenly, and a 429's ``Retry-After`` holds all writes. Pressure fades
gradually once the header stops coming.

Every wait goes through a ``sleeper`` that is interruptible by a stop, and the clock is
injectable, so the pacer is tested on a fake clock without sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["PacerStatus", "Stoppable", "WritePacer"]

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


class WritePacer:
    """Sliding-window write limiter, shared by all batch workers of one app+tenant. Thread-safe."""

    def __init__(
        self,
        quota: int = 3000,
        window: float = 150.0,
        *,
        headroom: float = 0.98,
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
        self._events: deque[tuple[float, int]] = deque()
        self._count = 0
        self._hold_until = -math.inf
        self._pressure_floor = 1.0
        self._pressure_at: float | None = None
        self._next_slot = -math.inf
        self._margin = 0.0

    # -- reading ---------------------------------------------------------------------------

    def in_window(self) -> int:
        """Writes recorded in the last ``window`` seconds (plus the round-trip margin)."""
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
            )

    # -- writing ---------------------------------------------------------------------------

    def acquire(self, n: int, stop: Stoppable) -> bool:
        """Block until ``n`` more writes fit, record them and return True; False if stopped.

        ``n`` larger than the whole capacity is let through once the window is empty, so a
        lowered capacity can never deadlock a batch.
        """
        if n <= 0:
            return not stop.wait(0)
        return self._acquire(n, n, stop) == n

    def acquire_up_to(self, n: int, stop: Stoppable) -> int:
        """Block until at least one write fits, record as many as fit (at most ``n``).

        Returns how many were granted, 0 if stopped. The batch executor uses it so that a
        worker holding a full batch never waits for 20 free slots while fewer are free: it
        sends what fits and puts the rest back, which keeps the window full.
        """
        return self._acquire(n, 1, stop)

    def _acquire(self, n: int, at_least: int, stop: Stoppable) -> int:
        if n <= 0:
            return 0
        while True:
            if stop.wait(0):
                return 0
            with self._lock:
                now = self._clock()
                delay = self._delay(at_least, now)
                if delay <= 0:
                    granted = max(at_least, min(n, self._room(now)))
                    self._record(granted, now)
                    return granted
            if self._sleeper(delay + _EPSILON, stop):
                return 0

    def hold(self, seconds: float) -> None:
        """After a 429: no write goes out before ``now + seconds``; also counts as pressure."""
        if seconds <= 0:
            return
        with self._lock:
            now = self._clock()
            self._hold_until = max(self._hold_until, now + seconds)
            self._apply_pressure(1.0, now)
            # Recovery starts when the hold ends, not while writes are still held.
            self._pressure_at = self._hold_until

    def note_latency(self, seconds: float) -> None:
        """Feed how long a write request took (send to answer).

        We count a write when we decide to send it, Graph counts it when it arrives, up to one
        round trip later. Keeping our writes in the window that much longer means a write we
        let go after an old one aged out on our side can never arrive before that old one aged
        out on Graph's side. The margin decays so that one slow response is forgotten.
        """
        if seconds != seconds or seconds <= 0:
            return
        with self._lock:
            self._margin = min(self.window / 10, max(seconds, self._margin * 0.95))

    def observe(self, limit_percentage: float | None) -> None:
        """Feed Graph's ``x-ms-throttle-limit-percentage`` (None when the header was absent).

        0.8–0.9: hold the current pace. From 0.9 up: lower the effective quota to
        ``0.85 / p`` of normal (1.0 → 85 %, 1.8 → 47 %) and space writes evenly, unless the
        reading is below 1.0 and matches how full our own window is (then it is just us using
        the quota we pace to). Absent: the pressure fades over time (see ``recovery_delay``
        and ``recovery_time``).
        """
        if limit_percentage is None or limit_percentage != limit_percentage:  # None or NaN
            return
        with self._lock:
            now = self._clock()
            self._prune(now)
            own = self._count / self.quota
            if limit_percentage >= _BACKOFF_FROM:
                if limit_percentage < 1.0 and limit_percentage <= own + _OWN_TOLERANCE:
                    # Our own full window explains the reading, and the window already
                    # keeps us below the limit; backing off would only waste quota.
                    return
                self._apply_pressure(limit_percentage, now)
            elif self._pressure_at is not None:
                # Near the limit but not over it: keep the pace we have, postpone recovery.
                self._pressure_floor = self._factor(now)
                self._pressure_at = now

    # -- internals (lock held) -------------------------------------------------------------

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
        horizon = now - self.window - self._margin
        events = self._events
        while events and events[0][0] <= horizon:
            self._count -= events.popleft()[1]

    def _room(self, now: float) -> int:
        return max(0, self._capacity(now) - self._count)

    def _delay(self, n: int, now: float) -> float:
        """Seconds until ``n`` writes may go (<= 0: now)."""
        self._prune(now)
        capacity = self._capacity(now)
        delay = self._hold_until - now
        if self._count and self._count + n > capacity:
            # Oldest-first: how long until enough old writes have left the window?
            excess = self._count + n - capacity if n <= capacity else self._count
            freed = 0
            for t, k in self._events:
                freed += k
                if freed >= excess:
                    delay = max(delay, t + self.window + self._margin - now)
                    break
        if self._factor(now) < 1.0:
            delay = max(delay, self._next_slot - now)
        return delay

    def _record(self, n: int, now: float) -> None:
        self._events.append((now, n))
        self._count += n
        if self._factor(now) < 1.0:
            # Under pressure, spread the reduced capacity evenly over the window.
            interval = n * self.window / self._capacity(now)
            self._next_slot = max(now, self._next_slot) + interval
        else:
            self._next_slot = -math.inf
