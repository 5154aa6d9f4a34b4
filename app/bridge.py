"""Between the engine's worker threads and the UI: the event sink and the Graph call log.

Step states, handoffs and inventories become posted messages (few, and thread-safe to post).
Per-object outcomes, the running steps' counts and pace, and log lines are buffered under a
lock and taken by the UI's flush timer in one batch, so deleting 50,000 users costs the UI a
few hundred updates, not 50,000, and no log line is ever dropped. A running step's count is
kept here, in the order the engine reports (its state saying it runs, then its outcomes), so
that the count taken always covers exactly the row marks taken with it. A step's run is also
tallied (:class:`Tally`), so that a stop is told in one line of counts.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.message import Message

from services.i18n import _
from services.models import (
    Event,
    HandoffUpdated,
    InventoryRefreshed,
    ItemFinished,
    Noted,
    NotSent,
    ProgressUpdated,
    StepChanged,
    StepId,
    StepState,
    StepStatus,
)
from services.plan.labels import not_sent_text

from .messages import HandoffChanged, InventoryLoaded, StepStateChanged
from .step_book import LiveCounts

if TYPE_CHECKING:
    from services.control import Waiting
    from services.graph.responses import CallRecord

log = logging.getLogger("closeout.graph.calls")
events = logging.getLogger("closeout.events")
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

# Which table an action's object lives in, and what a success is called there.
# Status values are the table's keys (it translates them); "deleted"/"done" are final.
ACTION_TABLE = {
    "delete-user": ("users", "deleted"),
    "purge-user": ("users", "deleted"),
    "disable-mfa": ("users", "done"),
    "delete-application": ("apps", "deleted"),
    "purge-application": ("apps", "deleted"),
    "delete-service-principal": ("apps", "deleted"),
    "purge-service-principal": ("apps", "deleted"),
    "remove-service-principal": ("apps", "deleted"),
    "delete-own-app": ("apps", "deleted"),
    "disable-service-principal": ("apps", "disabled"),
    "disable-security-defaults": ("policies", "done"),
    "disable-ca-policy": ("policies", "done"),
    "disable-directory-sync": ("", ""),
}


def format_call(record: CallRecord, *, refusal_expected: bool = False) -> tuple[str, str]:
    """(level, line) for one Graph exchange: method, path, status, request id, duration.
    ``refusal_expected``: closeout handed the tenant's deletion over, so a 401 or 403 is how
    Graph says the tenant or closeout's app is gone, not an error."""
    status = str(record.status) if record.status is not None else "---"
    extra = ""
    if record.batch_size:
        subs = " ".join(f"{code}×{n}" for code, n in sorted((record.sub_statuses or {}).items()))
        extra = f" ({record.batch_size}: {subs})" if subs else f" ({record.batch_size})"
    if record.retry_after is not None:
        extra += f" retry-after {record.retry_after:g}s"
    if record.error:
        extra += f" {record.error}"
    rid = (record.request_id or "-")[:8]
    line = f"{record.method} {record.path} {status}{extra} {rid} {record.duration_ms:.0f} ms"
    if refusal_expected and record.status in (401, 403):
        return "info", line + " " + _("(expected: the tenant or closeout's app is being deleted)")
    failed = record.error is not None or (record.status or 0) >= 400
    sub_failed = any(code >= 400 and code not in (404, 429) for code in (record.sub_statuses or {}))
    if failed or sub_failed:
        return ("warning" if record.status == 429 else "error"), line
    return "debug" if record.method == "GET" else "info", line


@dataclass
class Tally:
    """What one run of a step did, counted as its outcomes come in: results by the table's word
    (``deleted``, ``done``, ``disabled``, ``failed``, ``skipped``…) and the writes that never
    went out (by action: the plan names their objects)."""

    step: StepId | None = None
    results: Counter[str] = field(default_factory=Counter)
    not_sent: dict[str, int] = field(default_factory=dict)

    @property
    def not_sent_total(self) -> int:
        return sum(self.not_sent.values())


@dataclass
class Pending:
    lines: list[tuple[str, str]] = field(default_factory=list)
    marks: dict[str, dict[str, str]] = field(default_factory=dict)
    live: dict[StepId, StepState] = field(default_factory=dict)
    """Each running step's state with its counts as of the marks taken with it."""
    progress: dict[StepId, ProgressUpdated] = field(default_factory=dict)
    """Each running step's latest progress report (pace and ETA)."""


class EngineBridge:
    """Called from worker threads; the UI drains it with :meth:`take` on a timer."""

    def __init__(self, post: Callable[[Message], object]) -> None:
        self._post = post
        self._lock = threading.Lock()
        self._pending = Pending()
        self._live: dict[StepId, LiveCounts] = {}
        self._tally: Tally | None = None
        self.watchers: list[Callable[[Event], None]] = []
        """Also hear every engine event, on the engine's threads (the TUI's news)."""

    def start_tally(self, step: StepId) -> None:
        """Count the outcomes of ``step``'s run from now on (:meth:`end_tally` takes them)."""
        with self._lock:
            self._tally = Tally(step)

    def end_tally(self) -> Tally:
        with self._lock:
            tally, self._tally = self._tally or Tally(), None
        return tally

    def sink(self, event: Event) -> None:
        for watcher in self.watchers:
            watcher(event)
        if isinstance(event, ItemFinished):
            table, word = ACTION_TABLE.get(event.action, ("", ""))
            ok = event.outcome in ("done", "gone")
            status = word if ok else event.outcome
            line = None
            # A write the stop left unfinished is counted in the stop's one line, not told
            # one by one; a failure is the object's own, and is.
            quiet = event.outcome == "skipped" and self._tally is not None
            if not ok and not quiet:
                line = (
                    "error" if event.outcome == "failed" else "warning",
                    f"{event.action} {event.label}: {event.outcome} {event.status or ''} "
                    f"{event.code or ''} {event.message or ''}".rstrip(),
                )
            with self._lock:
                if table:
                    self._pending.marks.setdefault(table, {})[event.object_id] = status
                live = self._live.get(event.step)
                if live is not None and event.action in live.counts:
                    live.add(event.outcome)
                    self._pending.live[event.step] = live.current()
                if self._tally is not None:
                    self._tally.results[word if ok and word else event.outcome] += 1
            if line:
                self.note(*line)
        elif isinstance(event, StepChanged):
            step = event.state.step
            with self._lock:
                if event.state.status == StepStatus.RUNNING:
                    self._live[step] = LiveCounts(event.state)
                    # An ended run's state still buffered is older than this message.
                    self._pending.live.pop(step, None)
                elif self._live.pop(step, None) is not None:
                    # The run is over: its last state is this one, not a count still buffered,
                    # and it goes with the run's last marks: a flush before this message is
                    # handled must not show rows deleted that the checklist does not count.
                    self._pending.live[step] = event.state
                    self._pending.progress.pop(step, None)
            self._post(StepStateChanged(event.state))
        elif isinstance(event, ProgressUpdated):
            with self._lock:
                if event.step in self._live:
                    self._pending.progress[event.step] = event
        elif isinstance(event, HandoffUpdated):
            self._post(HandoffChanged(event.handoff))
        elif isinstance(event, InventoryRefreshed):
            self._post(InventoryLoaded(event))
        elif isinstance(event, Noted):
            self.note(event.level, event.text)
        elif isinstance(event, NotSent):
            with self._lock:
                tally = self._tally
                if tally is not None:
                    tally.not_sent[event.action] = tally.not_sent.get(event.action, 0) + event.count
            if tally is None:  # not a step's run: no summary line will say it
                self.note("warning", not_sent_text(event))

    def waiting(self, waiting: Waiting) -> None:
        """A wait of the session's Graph client or of a step: what for, until when."""
        self.note("warning", waiting.text())

    def on_call(self, record: CallRecord, *, refusal_expected: bool = False) -> None:
        level, line = format_call(record, refusal_expected=refusal_expected)
        log.log(logging.WARNING if level in ("warning", "error") else logging.INFO, "%s", line)
        self.line(level, line)

    def line(self, level: str, text: str) -> None:
        """A log-panel line; events are also written to the log file (Graph calls already are)."""
        with self._lock:
            self._pending.lines.append((level, text))

    def note(self, level: str, text: str) -> None:
        events.log(_LEVELS.get(level, logging.INFO), "%s", text)
        self.line(level, text)

    def take(self) -> Pending:
        with self._lock:
            pending, self._pending = self._pending, Pending()
        return pending
