"""What a resume has to reconcile: the unfinished run and the writes whose outcome is unknown,
folded record by record (:class:`_Survey`) or, for a journal whose runs interleave, from the
whole file in two passes (:func:`_unfinished`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.timestamps import parse_time

from .records import SETTLED, _intent_fields

__all__ = ["UnfinishedRun"]


@dataclass(frozen=True)
class UnfinishedRun:
    """The latest run, when it has no ``run-end``: what a resume has to reconcile.

    ``pending`` holds the intents that have no outcome after them, from this run and from any
    earlier unfinished runs since the last run that ended (a run that ended cleanly has
    already reconciled everything before it). ``counts`` and ``steps`` cover the same runs.
    """

    run_id: str
    started_at: datetime | None
    command: str
    user: str | None
    options: dict[str, Any]
    pending: tuple[dict[str, Any], ...]
    counts: dict[str, int]
    """Outcome results (``done``, ``gone``, ``failed``, ``skipped``) and how many of each."""
    steps: dict[Any, dict[str, Any]]
    """Last ``step`` record per step id: ``{"status", "summary", "t"}``."""
    last_at: datetime | None
    """When the last line of these runs was written: about when the process stopped."""
    runs: tuple[str, ...] = field(default=())
    """The run ids covered, oldest first (the last one is ``run_id``)."""


class _Survey:
    """What a resume needs, folded over the records in file order: the writes without a known
    outcome (:meth:`Journal.unsettled`) and the unfinished run (:meth:`Journal.unfinished`).

    Kept up to date record by record, so the journal is read once however often it is asked.
    :attr:`irregular` says the runs interleave (a record of a run other than the latest
    started, a run-end of another run, a run started twice): closeout never writes that, and
    :func:`_unfinished` then answers from the whole file instead.
    """

    def __init__(self) -> None:
        self.open_writes: dict[tuple[Any, Any], dict[str, Any]] = {}
        self.started: set[str] = set()
        self.chain: list[str] = []
        """The runs since the last run that ended, in the order they started."""
        self.chain_starts: dict[str, dict[str, Any]] = {}
        self.pending: dict[tuple[Any, Any], dict[str, Any]] = {}
        self.counts: Counter[str] = Counter()
        self.steps: dict[Any, dict[str, Any]] = {}
        self.last_at: datetime | None = None
        self.irregular = False

    def copy(self) -> _Survey:
        other = _Survey()
        other.open_writes = dict(self.open_writes)
        other.started = set(self.started)
        other.chain = list(self.chain)
        other.chain_starts = dict(self.chain_starts)
        other.pending = dict(self.pending)
        other.counts = Counter(self.counts)
        other.steps = dict(self.steps)
        other.last_at = self.last_at
        other.irregular = self.irregular
        return other

    def feed(self, rec: dict[str, Any]) -> None:
        kind = rec["kind"]
        key = (rec.get("action"), rec.get("object"))
        if kind == "intent":
            self.open_writes.pop(key, None)
            self.open_writes[key] = _intent_fields(rec)
        elif kind == "outcome":
            if rec.get("result") in SETTLED:
                self.open_writes.pop(key, None)
                # An outcome from any run settles an earlier intent on the same object.
                self.pending.pop(key, None)
            elif key not in self.open_writes:
                self.open_writes[key] = _intent_fields(rec)
        run = rec.get("run")
        if not isinstance(run, str):
            return
        latest = self.chain[-1] if self.chain else None
        if kind == "run-start":
            if run in self.started:
                self.irregular = True
            self.started.add(run)
            self.chain.append(run)
            self.chain_starts[run] = rec
        elif kind == "run-end":
            if run != latest:
                self.irregular = True
            # A run that ended reconciled everything before it.
            self.chain, self.chain_starts = [], {}
            self.pending, self.counts, self.steps, self.last_at = {}, Counter(), {}, None
            return
        elif run != latest:
            self.irregular = True
            return
        self.last_at = parse_time(rec.get("t")) or self.last_at
        if kind == "intent":
            self.pending.pop(key, None)
            self.pending[key] = _intent_fields(rec)
        elif kind == "outcome":
            self.counts[str(rec.get("result"))] += 1
        elif kind == "step":
            self.steps[rec.get("step")] = {
                "status": rec.get("status"),
                "summary": rec.get("summary", ""),
                "t": rec.get("t"),
            }

    def unfinished(self) -> UnfinishedRun | None:
        if not self.chain:
            return None
        latest = self.chain_starts[self.chain[-1]]
        options = latest.get("options")
        return UnfinishedRun(
            run_id=self.chain[-1],
            started_at=parse_time(latest.get("t")),
            command=str(latest.get("command", "")),
            user=latest.get("user"),
            options=dict(options) if isinstance(options, dict) else {},
            pending=tuple(self.pending.values()),
            counts=dict(self.counts),
            steps=dict(self.steps),
            last_at=self.last_at,
            runs=tuple(self.chain),
        )


def _unfinished(records: Callable[[], Iterable[dict[str, Any]]]) -> UnfinishedRun | None:
    """:meth:`Journal.unfinished` from the whole file, whatever the order of its runs: two
    passes over ``records()`` (a fresh stream each), never the whole file in memory."""
    starts: dict[str, dict[str, Any]] = {}
    ended: set[str] = set()
    for rec in records():
        run = rec.get("run")
        if not isinstance(run, str):
            continue
        if rec["kind"] == "run-start":
            starts.pop(run, None)  # re-insert: order is that of the latest start
            starts[run] = rec
        elif rec["kind"] == "run-end":
            ended.add(run)
    order = list(starts)
    if not order or order[-1] in ended:
        return None
    chain: list[str] = []
    for run in reversed(order):
        if run in ended:
            break
        chain.append(run)
    chain.reverse()
    covered = set(chain)

    pending: dict[tuple[Any, Any], dict[str, Any]] = {}
    counts: Counter[str] = Counter()
    steps: dict[Any, dict[str, Any]] = {}
    last_at: datetime | None = None
    for rec in records():
        kind = rec["kind"]
        key = (rec.get("action"), rec.get("object"))
        if kind == "outcome" and rec.get("result") in SETTLED:
            # An outcome from any run settles an earlier intent on the same object.
            pending.pop(key, None)
        if rec.get("run") not in covered:
            continue
        last_at = parse_time(rec.get("t")) or last_at
        if kind == "intent":
            pending.pop(key, None)
            pending[key] = _intent_fields(rec)
        elif kind == "outcome":
            counts[str(rec.get("result"))] += 1
        elif kind == "step":
            steps[rec.get("step")] = {
                "status": rec.get("status"),
                "summary": rec.get("summary", ""),
                "t": rec.get("t"),
            }
    latest = starts[chain[-1]]
    options = latest.get("options")
    return UnfinishedRun(
        run_id=chain[-1],
        started_at=parse_time(latest.get("t")),
        command=str(latest.get("command", "")),
        user=latest.get("user"),
        options=dict(options) if isinstance(options, dict) else {},
        pending=tuple(pending.values()),
        counts=dict(counts),
        steps=steps,
        last_at=last_at,
        runs=tuple(chain),
    )
