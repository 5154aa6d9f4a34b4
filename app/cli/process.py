"""The process around a command: signals that stop it, the log file, and lines on stderr.

Stdout belongs to the command's output (a plan, JSON lines for a script); what the admin is told
along the way (a sign-in prompt, a missing role, an error) goes to stderr through :func:`say`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from app.terminal import TerminalWatch, silence

if TYPE_CHECKING:
    from services.graph.responses import CallRecord

__all__ = [
    "log_call",
    "on_stream_error",
    "say",
    "setup_logging",
    "stop_on_signals",
    "stream_failed",
]

log = logging.getLogger("closeout")
_log_handler: logging.Handler | None = None

# The handlers signal.signal returns: a callable, an int constant (SIG_DFL, SIG_IGN) or None.
_Handler = Callable[[int, FrameType | None], object] | int | None


_stream_watch: TerminalWatch | None = None


def say(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except OSError as exc:
        # stderr is a closed terminal or pipe: said to no one, and a run stops.
        stream_failed(_stream_watch, sys.stderr, exc)


@contextlib.contextmanager
def on_stream_error(watch: TerminalWatch) -> Iterator[None]:
    """While the block runs, a failed write in :func:`say` tells ``watch``."""
    global _stream_watch
    previous, _stream_watch = _stream_watch, watch
    try:
        yield
    finally:
        _stream_watch = previous


def stream_failed(watch: TerminalWatch | None, stream: object, exc: OSError) -> None:
    """A write to ``stream`` failed: it goes to /dev/null from now on (Python's flush at exit
    must not fail too), and ``watch`` (a run's) learns that the terminal is gone."""
    fileno = getattr(stream, "fileno", None)
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        if fileno is not None:
            silence((fileno(),))
    if watch is not None:
        watch.stream_failed(exc)


@contextlib.contextmanager
def stop_on_signals(stop: Callable[[str], None], *, hangup: bool = False) -> Iterator[None]:
    """SIGINT and SIGTERM stop the run cleanly. SIGHUP is the terminal's (a run hears it through
    TerminalWatch); ``hangup`` makes it stop the same way, for what has no run to end."""
    previous: dict[int, _Handler] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        stop(signal.Signals(signum).name)

    hup = getattr(signal, "SIGHUP", None) if hangup else None
    for sig in (signal.SIGINT, signal.SIGTERM, hup):
        if sig is not None:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _PrivateLogHandler(logging.FileHandler):
    """A log file opened 0600 for appending and never through a symbolic link."""

    def _open(self) -> io.TextIOWrapper:
        from services.paths import open_private_append

        return open(  # noqa: PTH123 - a descriptor from the one function that refuses links
            open_private_append(Path(self.baseFilename)), "a", encoding=self.encoding
        )


def setup_logging(state_dir: Path | None) -> Path | None:
    """Everything (Graph calls included, tokens never) to a log file under the state dir.

    A symbolic link as the state dir, ``logs/`` or ``closeout.log`` is refused
    (:class:`~services.paths.SymlinkRefused`, exit 2): nothing is written through it. A log
    that cannot be written for another reason (a read-only disk) is done without.
    """
    from services.paths import log_dir

    try:
        path = log_dir(state_dir) / "closeout.log"
        handler = _PrivateLogHandler(path, encoding="utf-8")
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    # main() may run more than once in a process (tests, the TUI's re-runs): replace our
    # handler instead of stacking one more open file per call.
    global _log_handler
    if _log_handler is not None:
        root.removeHandler(_log_handler)
        _log_handler.close()
    _log_handler = handler
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def log_call(record: CallRecord) -> None:
    """One Graph call, one log line (a failure as a warning)."""
    level = logging.WARNING if (record.status or 0) >= 400 or record.error else logging.INFO
    log.log(
        level,
        "%s %s %s %s %.0fms%s",
        record.method,
        record.path,
        record.status,
        record.request_id or "-",
        record.duration_ms,
        f" {record.error}" if record.error else "",
    )
