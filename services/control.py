"""Pause, resume and stop for a running step or a whole session, and what every wait says.

The UI (or the CLI's signal handler) calls :meth:`RunControl.pause`, :meth:`~RunControl.resume`
and :meth:`~RunControl.stop` from any thread; workers call :meth:`~RunControl.wait` instead of
``time.sleep`` and :meth:`~RunControl.checkpoint` between units of work, so a stop is honoured
within milliseconds even in the middle of a long ``Retry-After``.

A session has one control from the moment its Graph client is built (a stop there reaches every
read, the sign-in's included); a step's control is a :meth:`~RunControl.child` of it: stopping
the step leaves the session running, stopping the session stops the step.

A wait that the admin should know about (Graph asked for it, Graph cannot be reached, the next
poll) is announced as a :class:`Waiting` to the listeners of the control it waits on and of its
parents, so the headless output and the TUI's log say what closeout waits for and until when.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .durations import wait_duration

__all__ = ["RunControl", "Waiting"]


@dataclass(frozen=True)
class Waiting:
    """One wait: what it is for, why, how long and until when (UTC)."""

    what: str
    """What waits: "reading /users", "sending a batch of 20", "the next read"."""
    why: str
    """Why, in the admin's words, with ``{seconds}`` where the wait's length goes: "Graph asked
    to wait {seconds}", "Graph did not answer (connection refused): retrying in {seconds}"."""
    seconds: float
    until: datetime

    @classmethod
    def starting_now(cls, what: str, why: str, seconds: float) -> Waiting:
        return cls(what, why, seconds, datetime.now(UTC) + timedelta(seconds=seconds))

    @property
    def reason(self) -> str:
        """``why`` with the wait's length in it."""
        return self.why.format(seconds=wait_duration(self.seconds))

    def text(self) -> str:
        """"Graph asked to wait 42 s (until 14:03:12 UTC) — reading /users"."""
        return f"{self.reason} (until {self.until:%H:%M:%S} UTC) — {self.what}"


class RunControl:
    """Thread-safe run state: running, paused or stopped (stop is final)."""

    def __init__(self) -> None:
        self.stop_event = threading.Event()
        self._cond = threading.Condition()
        self._paused = False
        self._listeners: list[Callable[[], None]] = []
        self._wait_listeners: list[Callable[[Waiting], None]] = []
        self._parent: RunControl | None = None
        self._detach: Callable[[], None] | None = None
        self.reason: str | None = None
        """Why the run stopped, when whoever stopped it said (a signal, a lost terminal)."""

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stopped(self) -> bool:
        return self.stop_event.is_set() or (self._parent is not None and self._parent.stopped)

    def child(self) -> RunControl:
        """A control for one part of this run (a step): stopped whenever this one is, while a
        stop of its own leaves this one running. Its waits are announced to this one's
        listeners too. Call :meth:`detach` when the part is over."""
        child = RunControl()
        child._parent = self
        child._detach = self.add_listener(child._follow)
        if self.stopped:
            child.stop(self.reason)
        return child

    def detach(self) -> None:
        """Stop following the parent (the step is over); idempotent."""
        detach, self._detach = self._detach, None
        if detach is not None:
            detach()

    def _follow(self) -> None:
        parent = self._parent
        if parent is not None and parent.stopped:
            self.stop(parent.reason)

    def pause(self) -> None:
        """Hold workers at their next checkpoint. In-flight requests still finish."""
        with self._cond:
            if self._paused or self.stop_event.is_set():
                return
            self._paused = True
            self._cond.notify_all()
        self._notify()

    def resume(self) -> None:
        with self._cond:
            if not self._paused:
                return
            self._paused = False
            self._cond.notify_all()
        self._notify()

    def stop(self, reason: str | None = None) -> None:
        """Request a stop; idempotent. Wakes every :meth:`wait` and :meth:`checkpoint` at once.
        ``reason`` says why (a signal, a lost terminal), for the log."""
        with self._cond:
            if self.stop_event.is_set():
                return
            self.reason = reason
            self.stop_event.set()
            self._paused = False
            self._cond.notify_all()
        self._notify()

    def wait(self, seconds: float, waiting: Waiting | None = None) -> bool:
        """Sleep up to ``seconds``; True if a stop was requested (then returns at once).

        ``waiting``: what this wait is, announced first to the listeners."""
        if waiting is not None and seconds > 0 and not self.stopped:
            self.announce(waiting)
        if seconds <= 0:
            return self.stopped
        return self.stop_event.wait(seconds) or self.stopped

    def checkpoint(self) -> bool:
        """Block while paused; False if stopped (the caller must not start new work)."""
        with self._cond:
            while self._paused and not self.stop_event.is_set():
                self._cond.wait()
            return not self.stop_event.is_set()

    def add_listener(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call ``callback()`` after every pause, resume or stop; returns a remover.

        For components that block on their own condition variable (the batch executor's
        queue) and must wake up when the run state changes. Callbacks run on the caller's
        thread of pause/resume/stop and must be quick and must not raise.
        """
        with self._cond:
            self._listeners.append(callback)

        def remove() -> None:
            with self._cond:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return remove

    def add_wait_listener(self, callback: Callable[[Waiting], None]) -> Callable[[], None]:
        """Call ``callback(waiting)`` for every announced wait (this control's and its
        children's); returns a remover. Callbacks must be quick and must not raise."""
        with self._cond:
            self._wait_listeners.append(callback)

        def remove() -> None:
            with self._cond:
                if callback in self._wait_listeners:
                    self._wait_listeners.remove(callback)

        return remove

    def announce(self, waiting: Waiting) -> None:
        """Tell this control's wait listeners, then its parents', about ``waiting``."""
        with self._cond:
            listeners = list(self._wait_listeners)
        for callback in listeners:
            callback(waiting)
        if self._parent is not None:
            self._parent.announce(waiting)

    def _notify(self) -> None:
        with self._cond:
            listeners = list(self._listeners)
        for callback in listeners:
            callback()

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "paused" if self.paused else "running"
        return f"<RunControl {state}>"
