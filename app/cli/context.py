"""Connect, run, report: the frame every headless command (plan, status, export, run) runs in.

:func:`connected` stops on SIGINT, SIGTERM and SIGHUP, signs in (a device code prompt goes to
stderr), identifies the tenant, opens its journal and builds the engine, and closes it all when
the command ends; a failure to connect is also told to a script reading JSON lines.
:class:`Connection` names every missing role or permission before a command reads or changes
anything. :func:`read_tenant` is the whole frame for the commands that only read.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.terminal import TerminalWatch, silence
from services.errors import CloseoutError
from services.exit_codes import ExitCode, exit_code_for
from services.i18n import _

from .options import session_options
from .process import log_call, on_stream_error, say, stop_on_signals, stream_failed

if TYPE_CHECKING:
    from services.control import RunControl, Waiting
    from services.engine import Engine
    from services.graph.responses import CallRecord
    from services.headless.report import Reporter
    from services.session import Session

__all__ = ["Connection", "connected", "read_tenant", "report_failure"]


@dataclass
class Connection:
    """A headless command's connected session, and where it reports (JSON lines or text on
    stdout for ``run``; stderr for the others)."""

    session: Session
    report: Reporter | None = None

    @property
    def engine(self) -> Engine:
        engine = self.session.engine
        assert engine is not None, "connected() yields a connected session"
        return engine

    def report_missing(self, *, reading: bool = False) -> bool:
        """Name every missing role or permission; True if any. What only a token's claims
        suggest is missing is said as a warning, and does not count.

        ``reading``: only what reading the tenant needs (plan, status, export change nothing).
        """
        from services.requirements import hinted_missing, missing_for
        from services.steps.registry import STEPS

        engine = self.engine
        missing = missing_for(engine.caller, STEPS, read_only=True) if reading else engine.missing()
        for m in missing:
            if self.report is not None:
                self.report.emit(
                    {"event": "missing", "kind": m.kind, "name": m.name, "step": int(m.step)},
                    m.text(),
                )
            else:
                say(m.text())
        hints = hinted_missing(engine.caller, STEPS, read_only=True) if reading else engine.hints()
        if hints and not missing:
            # What a readable token claims is a hint, not a verdict: say it early, then let
            # Graph decide (the run stops at the first request it refuses).
            lines = [m.hint_text() for m in hints]
            lines.append(
                _(
                    "closeout does not rely on what an access token says (it may be encrypted or "
                    "not a JWT at all): it goes on and stops at the first request Graph refuses."
                )
            )
            for line in lines:
                if self.report is not None:
                    self.report.emit({"event": "note", "level": "warning", "message": line}, line)
                else:
                    say(line)
        return bool(missing)


@contextlib.contextmanager
def connected(
    args: argparse.Namespace,
    *,
    read_only: bool = False,
    control: RunControl | None = None,
    report: Reporter | None = None,
    write: bool = False,
    on_call: Callable[[CallRecord], None] | None = None,
) -> Iterator[Connection]:
    """Signed in and connected for the length of the ``with`` block, then closed.

    ``control``: the session's (a run's, which drives it; else a new one): SIGINT and SIGTERM
    stop it, and so does the terminal going away (SIGHUP, a closed pty, a write error on
    stdout or stderr), from the first request of the sign-in on. ``report``: a run's reporter,
    which also hears of a failure to connect and of every wait; ``write``: the command may
    change the tenant (``run``); ``on_call``: also hears of every Graph call (after the log
    file).
    """
    from services.control import RunControl

    control = control or RunControl()

    def lost(reason: str) -> None:
        silence()  # nothing written from now on can fail, the last lines and Python's exit
        control.stop(reason)

    with stop_on_signals(control.stop), TerminalWatch(lost) as watch, on_stream_error(watch):
        if report is not None:
            report.on_lost = lambda exc: stream_failed(watch, report.out, exc)
        announce = report.wait if report is not None else _say_wait
        remove = control.add_wait_listener(announce)
        try:
            try:
                session = _connect(
                    args,
                    control,
                    read_only=read_only,
                    report=report,
                    write=write,
                    on_call=on_call,
                )
            except CloseoutError as exc:
                # A wrong tenant or a rejected token: JSON readers hear it too.
                if report is not None:
                    report_failure(report, exc)
                raise
            try:
                _warn_journal(session, report)
                yield Connection(session, report)
            finally:
                session.close()
        finally:
            remove()


def _say_wait(waiting: Waiting) -> None:
    say(waiting.text())


def _warn_journal(session: Session, report: Reporter | None) -> None:
    """Damaged journal lines, named before anything else: a JSON line for a run, else stderr
    (stdout may be JSON for a script)."""
    engine = session.engine
    for text in engine.journal_warnings() if engine is not None else ():
        if report is not None:
            report.emit({"event": "note", "level": "warning", "message": text}, text)
        else:
            say(_("closeout: warning: {text}").format(text=text))


def read_tenant(
    args: argparse.Namespace,
    body: Callable[[Connection], ExitCode],
    *,
    read_only: bool = False,
    control: RunControl | None = None,
    on_call: Callable[[CallRecord], None] | None = None,
) -> ExitCode:
    """plan, status, export, data-owners and snapshot: connected (``control`` and ``on_call`` as
    :func:`connected` takes them), and stopped with exit 5 (each missing role or permission
    named) if the tenant may not be read; otherwise ``body`` gives the exit code."""
    with connected(args, read_only=read_only, control=control, on_call=on_call) as connection:
        if connection.report_missing(reading=True):
            return ExitCode.AUTH
        return body(connection)


def report_failure(report: Reporter, exc: CloseoutError) -> ExitCode:
    """The error that ends a run, and its exit code, as JSON lines (main() prints the message
    and hint on stderr). A tenant that is gone ends it too, as a note: that is the goal."""
    code = exit_code_for(exc)
    if code == ExitCode.DONE:
        report.emit({"event": "note", "level": "info", "message": exc.message}, None)
    elif code == ExitCode.WAITING:
        # Not an error: Graph asked for a long wait, or is out of reach for now.
        report.emit({"event": "waiting", "message": exc.message, "hint": exc.hint}, None)
    else:
        report.emit(
            {"event": "error", "message": exc.message, "hint": exc.hint, "code": code}, None
        )
    report.emit({"event": "exit", "code": code}, None)
    return code


def _connect(
    args: argparse.Namespace,
    control: RunControl,
    *,
    read_only: bool,
    report: Reporter | None,
    write: bool,
    on_call: Callable[[CallRecord], None] | None = None,
) -> Session:
    from services.session import Session, sign_in_headless

    session = Session(session_options(args, read_only=read_only), control=control)
    try:
        if session.sandbox is not None:
            say(
                _("Sandbox tenant {domain} at {url} (nothing here contacts Microsoft).").format(
                    domain=session.sandbox.initial_domain, url=session.sandbox.base_url
                )
            )
        if session.demo_note:
            say(session.demo_note)
        sign_in_headless(session, control.stop_event, say)
        session.connect(sink=report, on_call=_both(log_call, on_call), write=write)
    except BaseException:
        session.close()  # the demo's sandbox, an open journal: not left behind by a failure
        raise
    return session


def _both(
    first: Callable[[CallRecord], None], second: Callable[[CallRecord], None] | None
) -> Callable[[CallRecord], None]:
    if second is None:
        return first

    def call(record: CallRecord) -> None:
        first(record)
        second(record)

    return call
