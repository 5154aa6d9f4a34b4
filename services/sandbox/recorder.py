"""What the sandbox received: every Graph request and the events tests need to prove safety.

Tests read it in process: writes per object, the most writes in any quota window, whether a
synced user was ever sent a delete, what the tenant looked like when it was deleted.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Record:
    sim_time: float
    real_time: float
    method: str
    path: str
    status: int
    object_id: str | None
    app_id: str | None
    in_batch: bool
    counted_write: bool
    """Admitted past throttling and counted against the write quota."""

    @property
    def is_write(self) -> bool:
        return self.method in ("POST", "PATCH", "PUT", "DELETE")


@dataclass(frozen=True)
class Event:
    sim_time: float
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


class Recorder:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[Record] = []
        self._events: list[Event] = []
        self._seen = 0

    def record(self, **kw: Any) -> None:
        rec = Record(real_time=time.monotonic(), **kw)
        with self._lock:
            self._records.append(rec)
            self._seen += 1

    def event(self, sim_time: float, kind: str, **detail: Any) -> None:
        with self._lock:
            self._events.append(Event(sim_time, kind, detail))
            self._seen += 1

    def changes(self) -> int:
        """Requests and events so far, ever growing (:meth:`clear` does not reset it): the
        demo saves its tenant only when this moved since its last save."""
        return self._seen

    def records(self) -> list[Record]:
        with self._lock:
            return list(self._records)

    def events(self, kind: str | None = None) -> list[Event]:
        with self._lock:
            return [e for e in self._events if kind is None or e.kind == kind]

    def writes(self) -> list[Record]:
        """Write requests (batch items included; ``$batch`` envelopes excluded)."""
        return [r for r in self.records() if r.is_write and not r.path.endswith("/$batch")]

    def count(
        self,
        *,
        method: str | None = None,
        path_prefix: str | None = None,
        status: int | None = None,
    ) -> int:
        return sum(
            1
            for r in self.records()
            if (method is None or r.method == method)
            and (path_prefix is None or r.path.startswith(path_prefix))
            and (status is None or r.status == status)
        )

    def writes_per_target(self, *, successful_only: bool = True) -> Counter[tuple[str, str]]:
        """How often each (method, path) was written; >1 means an object was written twice."""
        return Counter(
            (r.method, r.path)
            for r in self.writes()
            if not successful_only or 200 <= r.status < 300
        )

    def max_writes_in_window(self, window_sim: float) -> int:
        """The most quota-counted writes in any sliding window of ``window_sim`` seconds."""
        times = sorted(r.sim_time for r in self.records() if r.counted_write)
        best = 0
        lo = 0
        for hi, t in enumerate(times):
            while times[lo] <= t - window_sim:
                lo += 1
            best = max(best, hi - lo + 1)
        return best

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._events.clear()

    def summary(self) -> dict[str, Any]:
        recs = self.records()
        by_status = Counter(r.status for r in recs)
        return {
            "requests": len(recs),
            "writes": sum(1 for r in recs if r.is_write and not r.path.endswith("/$batch")),
            "throttled": by_status.get(429, 0),
            "by_status": {str(k): v for k, v in sorted(by_status.items())},
            "events": [{"sim_time": e.sim_time, "kind": e.kind, **e.detail} for e in self.events()],
        }
