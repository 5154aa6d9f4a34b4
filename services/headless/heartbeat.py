"""The heartbeat of a waiting headless run: a line every minute saying which steps it waits
for, for how long, and when it reads Graph next, so that a log shows the run is alive.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from services.control import RunControl
from services.durations import format_duration
from services.i18n import ngettext

from .report import Reporter

HEARTBEAT = 60.0
"""Seconds between heartbeat lines while a headless run waits."""


class Heartbeat:
    """A line every ``every`` seconds while the run waits, across its polls of Graph."""

    def __init__(
        self,
        report: Reporter,
        every: float = HEARTBEAT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.report = report
        self.every = every
        self.clock = clock
        """Seconds, monotonic; the control's waits pass them (tests: a simulated clock)."""
        self._since: float | None = None
        self._next = 0.0

    def reset(self) -> None:
        """The run acts again: the next wait starts its own count."""
        self._since = None

    def wait(self, control: RunControl, seconds: float, steps: Sequence[int]) -> bool:
        """Wait ``seconds`` (True if stopped meanwhile), beating on time for ``steps``."""
        now = self.clock()
        if self._since is None:
            self._since, self._next = now, now + self.every
        deadline = now + seconds
        while True:
            now = self.clock()
            if now >= deadline:
                return control.stopped
            if control.wait(min(deadline, self._next) - now):
                return True
            now = self.clock()
            if now >= self._next:
                self._beat(steps, now, deadline - now)
                self._next += self.every
                if self._next <= now:  # the machine slept: beat on from now
                    self._next = now + self.every

    def _beat(self, steps: Sequence[int], now: float, next_read: float) -> None:
        waited = now - (self._since or now)
        which = ", ".join(str(s) for s in steps)
        self.report.emit(
            {
                "event": "heartbeat",
                "steps": list(steps),
                "waited_seconds": round(waited),
                "next_read_seconds": round(max(next_read, 0)),
            },
            ngettext(
                "still waiting for step {steps} ({waited} so far); next read in {next}",
                "still waiting for steps {steps} ({waited} so far); next read in {next}",
                len(steps),
            ).format(
                steps=which, waited=format_duration(waited), next=format_duration(max(next_read, 0))
            ),
        )
