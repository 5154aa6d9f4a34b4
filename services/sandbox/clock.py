"""The sandbox's clock: simulated directory time that may run faster than real time.

Everything with a documented duration (the 150-second write window, the 72-hour directory-sync
turn-off, a subscription's 72-hour deprovisioning) is expressed in simulated seconds. At
``time_scale`` 3600 one real second is one simulated hour, so a 72-hour wait passes in 72 s.
``Retry-After`` values are converted back to real seconds, because that is what a client sleeps.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class SimClock:
    """Monotonic simulated time anchored at a fixed start instant."""

    def __init__(self, time_scale: float = 1.0, start: datetime | None = None) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = float(time_scale)
        self._start = start or datetime.now(UTC).replace(microsecond=0)
        self._real0 = time.monotonic()
        self._skipped = 0.0
        self._held: float | None = None
        self._lock = threading.Lock()

    def now(self) -> float:
        """Simulated seconds since the start instant."""
        with self._lock:
            if self._held is not None:
                return self._held
            return (time.monotonic() - self._real0) * self.time_scale + self._skipped

    def hold(self) -> None:
        """Stop simulated time until :meth:`release` (tests: a burst of writes that must land
        in one quota window however slowly a loaded machine sends it)."""
        with self._lock:
            if self._held is None:
                self._held = (time.monotonic() - self._real0) * self.time_scale + self._skipped

    def release(self) -> None:
        """Let simulated time run again from where :meth:`hold` stopped it."""
        with self._lock:
            if self._held is not None:
                self._skipped, self._real0, self._held = self._held, time.monotonic(), None

    def now_dt(self) -> datetime:
        return self._start + timedelta(seconds=self.now())

    def at(self, sim_seconds: float) -> datetime:
        return self._start + timedelta(seconds=sim_seconds)

    def advance(self, sim_seconds: float) -> None:
        """Jump forward (sandbox control: 'let three days pass')."""
        if sim_seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._skipped += sim_seconds
            if self._held is not None:
                self._held += sim_seconds

    def set_time_scale(self, time_scale: float) -> None:
        """Run at another speed from now on; time already passed stays as it was."""
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        with self._lock:
            now = time.monotonic()
            if self._held is None:
                self._skipped += (now - self._real0) * self.time_scale
            self._real0 = now
            self.time_scale = float(time_scale)

    def to_real(self, sim_seconds: float) -> float:
        return sim_seconds / self.time_scale

    def to_sim(self, real_seconds: float) -> float:
        return real_seconds * self.time_scale


def iso(dt: datetime) -> str:
    """Graph's timestamp form: ``2024-05-01T12:00:00Z``."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def http_date(dt: datetime) -> str:
    """RFC 7231 ``Date`` header value."""
    return dt.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
