"""The terminal going away: a hang-up, a closed pty, a read or write error on the standard streams.

An SSH session that drops or a tmux session that is killed sends SIGHUP to the foreground job,
but not always (a job in the background, a terminal emulator that just closes its pty), and the
process may find out only from its streams: a pty whose other end is closed reads as end of file
and fails every write with EIO. Textual's Linux driver then busy-loops on the empty reads (its
input thread selects, reads nothing, and selects again: Textualize/textual#6690) and its writer
thread dies on the first EIO, after which the app blocks as soon as its output queue is full.

:class:`TerminalWatch` notices all of it once, from a signal handler, a stream error or a
thread that polls the terminal's descriptors for POLLHUP/POLLERR (blocking in ``poll``, never
spinning), and calls ``on_lost(reason)``: the headless run and the TUI stop between batches,
close the journal and exit 3. :func:`silence` points the lost terminal's descriptors at
``/dev/null`` first, so that nothing written afterwards (the last progress line, Python's flush
at exit) can fail or block. :func:`guarded_driver` is Textual's Linux driver with an output that
reports a write error instead of dying on it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import IO, Any, cast

from services.i18n import _

__all__ = ["TerminalWatch", "guarded_driver", "silence"]

log = logging.getLogger("closeout.terminal")

POLL_SECONDS = 0.5
"""How often the watch thread wakes when nothing happens (poll blocks in between)."""
_STREAMS = (0, 1, 2)
_LOST = select.POLLHUP | select.POLLERR | select.POLLNVAL


def _ttys(fds: tuple[int, ...] = _STREAMS) -> list[int]:
    out = []
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.isatty(fd):
                out.append(fd)
    return out


def silence(fds: tuple[int, ...] | None = None) -> None:
    """Point ``fds`` (default: the standard streams that are terminals) at ``/dev/null``.

    Only terminals by default: output redirected to a file or a pipe has not gone anywhere when
    the terminal did, and keeps what is written to it.
    """
    targets = _ttys() if fds is None else list(fds)
    if not targets:
        return
    try:
        null = os.open(os.devnull, os.O_RDWR)
    except OSError:
        return
    try:
        for fd in targets:
            with contextlib.suppress(OSError):
                os.dup2(null, fd)
    finally:
        os.close(null)


class TerminalWatch:
    """Calls ``on_lost(reason)`` once when the terminal goes away; see the module docstring.

    ``signals``: the signals that mean it (SIGHUP); the previous handlers come back on
    :meth:`stop`. Use as a context manager around the work, from the main thread.
    """

    def __init__(
        self,
        on_lost: Callable[[str], None],
        *,
        signals: tuple[int, ...] = (signal.SIGHUP,) if hasattr(signal, "SIGHUP") else (),
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._on_lost = on_lost
        self._signals = signals
        self._poll_seconds = poll_seconds
        self._previous: dict[int, Any] = {}
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._fired = False
        self._thread: threading.Thread | None = None

    @property
    def lost(self) -> bool:
        return self._fired

    def __enter__(self) -> TerminalWatch:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        for sig in self._signals:
            with contextlib.suppress(ValueError, OSError):  # not the main thread
                self._previous[sig] = signal.signal(sig, self._on_signal)
        fds = _ttys()
        if fds:
            self._thread = threading.Thread(
                target=self._watch, args=(fds,), name="closeout-terminal", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._done.set()
        for sig, old in self._previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, old)
        self._previous.clear()

    def report(self, reason: str) -> None:
        """The terminal is gone (a stream said so); the first report wins."""
        with self._lock:
            if self._fired:
                return
            self._fired = True
        log.warning("the terminal went away (%s): stopping between batches", reason)
        try:
            self._on_lost(reason)
        except Exception:  # a lost terminal must never crash the stop
            log.exception("stopping after the terminal went away failed")

    def stream_failed(self, exc: OSError) -> None:
        """A read or write on a standard stream failed (EIO, EPIPE): the terminal is gone."""
        self.report(f"{exc.strerror or type(exc).__name__}")

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # In the main thread, between two bytecodes: nothing here may block on a lock another
        # thread holds for long; report() takes its own only, then stops the run control.
        self.report(signal.Signals(signum).name)

    def _watch(self, fds: list[int]) -> None:
        poller = select.poll()
        for fd in fds:
            # No events asked for: poll reports only hang-ups and errors, so it blocks while
            # the terminal is alive instead of waking on every keystroke.
            poller.register(fd, 0)
        while not self._done.is_set():
            try:
                events = poller.poll(self._poll_seconds * 1000)
            except OSError:
                continue
            gone = [fd for fd, mask in events if mask & _LOST]
            if gone:
                self.report(_("terminal closed (fd {fds})").format(fds=",".join(map(str, gone))))
                return


class _GuardedOutput:
    """A text stream whose write errors are reported once and then swallowed, so that the
    thread writing to it (Textual's writer) lives on and the app never blocks on its queue."""

    def __init__(self, inner: IO[str], on_error: Callable[[OSError], None]) -> None:
        self._inner = inner
        self._on_error = on_error
        self._broken = False

    def write(self, text: str) -> int:
        if not self._broken:
            try:
                return self._inner.write(text)
            except OSError as exc:
                self._fail(exc)
        return len(text)

    def flush(self) -> None:
        if not self._broken:
            try:
                self._inner.flush()
            except OSError as exc:
                self._fail(exc)

    def _fail(self, exc: OSError) -> None:
        self._broken = True
        self._on_error(exc)

    def fileno(self) -> int:
        return self._inner.fileno()

    def isatty(self) -> bool:
        return True


def guarded_driver(base: type[Any], on_error: Callable[[Any, OSError], None]) -> type[Any]:
    """``base`` (Textual's LinuxDriver) with an output that calls ``on_error(app, exc)`` on a
    write error instead of killing its writer thread. Textual writes the screen to stderr."""

    class GuardedDriver(base):
        _file: Any  # Textual's output stream; the base class is only known as Any here

        def __init__(self, app: Any, **kwargs: Any) -> None:
            super().__init__(app, **kwargs)
            # Textual's Linux driver only runs with a stderr to draw on: never None here.
            inner = cast("IO[str]", self._file or sys.__stderr__)
            self._file = _GuardedOutput(inner, lambda exc: on_error(self._app, exc))

        def run_input_thread(self) -> None:
            """Textual's input loop, with a read error on stdin (EIO once the session that
            owned the terminal is gone) reported as the terminal going away: Textual's own
            wrapper would make it a crash (a traceback, exit 1) in the middle of a step."""
            try:
                super().run_input_thread()
            except OSError as exc:
                on_error(self._app, exc)

        def stop_input(self) -> None:
            """End the input thread now: on a closed terminal it would spin on empty reads
            until the app shuts down. disable_input() skips its join once this is set."""
            self.exit_event.set()

    GuardedDriver.__name__ = f"Guarded{base.__name__}"
    return GuardedDriver
