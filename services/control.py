"""Pause, resume and stop for a running step, shared by the step, the batch executor and the client.

The UI (or the CLI's signal handler) calls :meth:`RunControl.pause`, :meth:`~RunControl.resume`
and :meth:`~RunControl.stop` from any thread; workers call :meth:`~RunControl.wait` instead of
``time.sleep`` and :meth:`~RunControl.checkpoint` between units of work, so a stop is honoured
within milliseconds even in the middle of a long ``Retry-After``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["RunControl"]


class RunControl:
    """Thread-safe run state: running, paused or stopped (stop is final)."""

    def __init__(self) -> None:
        self.stop_event = threading.Event()
        self._cond = threading.Condition()
        self._paused = False
        self._listeners: list[Callable[[], None]] = []

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stopped(self) -> bool:
        return self.stop_event.is_set()

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

    def stop(self) -> None:
        """Request a stop; idempotent. Wakes every :meth:`wait` and :meth:`checkpoint` at once."""
        with self._cond:
            if self.stop_event.is_set():
                return
            self.stop_event.set()
            self._paused = False
            self._cond.notify_all()
        self._notify()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if a stop was requested (then returns at once)."""
        if seconds <= 0:
            return self.stop_event.is_set()
        return self.stop_event.wait(seconds)

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

    def _notify(self) -> None:
        with self._cond:
            listeners = list(self._listeners)
        for callback in listeners:
            callback()

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "paused" if self.paused else "running"
        return f"<RunControl {state}>"
