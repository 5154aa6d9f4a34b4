"""Reading one tenant's journal: streaming its records, reading a few again by offset, and the
small incremental index that answers what is polled often (ticks, the last success of an
action, the unfinished run, the unsettled writes) by reading only what was appended.

Reading needs no lock and creates nothing, so ``closeout status`` works while a run is in
progress. A journal that records another tenant's runs is refused at every read
(:class:`~.health.ForeignJournal`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from services.paths import normalize_tenant_id, tenant_path
from services.timestamps import parse_time

from .health import ForeignJournal, JournalHealth, _Scan
from .records import JOURNAL_NAME, LOCK_NAME, _decode
from .resume import UnfinishedRun, _Survey, _unfinished

__all__ = ["JournalReader"]


class JournalReader:
    """The reading half of :class:`~.writer.Journal`: the tenant's journal file, read at any
    time. ``root`` replaces the state directory (``<root>/tenants/<tenant>/journal.jsonl``).
    """

    def __init__(self, tenant_id: str, *, root: Path | None = None) -> None:
        self.tenant_id = normalize_tenant_id(tenant_id)
        self._root = root
        self.directory = tenant_path(self.tenant_id, root=root)
        self.path = self.directory / JOURNAL_NAME
        self.lock_path = self.directory / LOCK_NAME
        self.health = JournalHealth()
        """What the last full read (:meth:`records`, :meth:`iter_records`, :meth:`check`)
        found damaged."""
        self._read_mutex = threading.Lock()
        # A small index kept up to date by reading only appended bytes, for what is polled
        # often (ticks, when sync was turned off). Records themselves are never kept: a
        # 100,000-user run writes 200,000 of them.
        self._index = _Scan()
        self._ticks: dict[str, bool] = {}
        self._last_success: dict[str, str] = {}
        self._gone: dict[str, Any] | None = None
        self._clear_index()

    @property
    def corrupt_lines(self) -> int:
        """Unreadable lines skipped by the last full read (a torn last line is not counted)."""
        return self.health.damaged

    @property
    def torn_tail(self) -> bool:
        """The last full read ended in a partial line (a process was killed mid-write)."""
        return self.health.torn_tail

    def not_sent_counts(self, run_id: str) -> dict[tuple[int, str], int]:
        """``(step, action) → count`` of the not-sent lines of ``run_id``.

        From the index: ending a run asks for them, and a scan of a 100,000-user journal there
        made quitting after a stop slow."""
        self._refresh_index()
        counts = dict(self._not_sent.get(run_id, {}))
        tail = self._index.tail
        if tail is not None and tail.get("run") == run_id:
            _count_not_sent(counts, tail)
        return counts

    def last_not_sent(self) -> dict[int, dict[str, Any]]:
        """Step → the latest not-sent record of that step, any run: when a stop (or an outage)
        last left that step's writes unsent, and how many."""
        self._refresh_index()
        return dict(self._last_not_sent)

    def last_steps(self) -> tuple[dict[int, dict[str, Any]], datetime | None]:
        """Step → its latest ``step`` record (any run), and when the journal was last written:
        what closeout last saw, and when, for "since you left" on the next start."""
        self._refresh_index()
        return dict(self._last_steps), parse_time(self._last_t)

    # -- reading -----------------------------------------------------------------------------

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """Every readable record in file order, one at a time, so that memory stays flat however
        long the journal is (the evidence of a 100,000-user run reads 200,000 records).

        Updates :attr:`health` when the end is reached. Raises :class:`ForeignJournal` at a
        run recorded on another tenant: nothing in such a file may be trusted or resumed.
        """
        for _offset, record in self.iter_positioned():
            yield record

    def iter_positioned(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """:meth:`iter_records` with the byte offset of each record's line, for
        :meth:`records_at` to read a few of them again without keeping them meanwhile."""
        scan = _Scan()
        yield from self._scan(scan)
        if scan.tail is not None:
            yield scan.offset, scan.tail
        self.health = scan.health()

    def records_at(self, offsets: Iterable[int]) -> Iterator[dict[str, Any]]:
        """The records on the lines that start at ``offsets`` (ascending), read in one pass.

        Raises ValueError if a line there is not a record any more (the file was replaced).
        """
        wanted = iter(offsets)
        target = next(wanted, None)
        if target is None:
            return
        with self.path.open("rb") as fh:
            position = 0
            for raw in fh:
                start, position = position, position + len(raw)
                if start < target:
                    continue
                record = _decode(raw.strip()) if start == target else None
                if record is None:
                    raise ValueError(f"{self.path}: no record at byte {target} any more")
                yield record
                target = next(wanted, None)
                if target is None:
                    return
        raise ValueError(f"{self.path}: no record at byte {target} any more")

    def records(self) -> list[dict[str, Any]]:
        """Every readable record in file order (see :meth:`iter_records`).

        Reads the whole file each time, and holds it: for tests and small journals. What the
        program needs is answered from a small incremental index (:meth:`unfinished`,
        :meth:`unsettled`, :meth:`check`, ...) or streamed (:meth:`iter_records`).
        """
        return list(self.iter_records())

    def check(self) -> JournalHealth:
        """Read the whole journal (what was not read yet): refuses another tenant's, says what
        is damaged."""
        self._refresh_index()
        return self.health

    def _scan(
        self, scan: _Scan, on_restart: Callable[[], None] | None = None
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Records of the complete lines after ``scan.offset`` with their offsets, advancing
        ``scan`` as it goes.

        If the file is not the one ``scan`` was reading any more (replaced, truncated, gone),
        ``scan`` starts over from the top and ``on_restart`` is called first.
        """
        scan.tail, scan.torn = None, False
        try:
            fh = self.path.open("rb")
        except FileNotFoundError:
            if scan.identity is not None:
                scan.reset()
                if on_restart is not None:
                    on_restart()
            return
        with fh:
            st = os.fstat(fh.fileno())
            current = (st.st_dev, st.st_ino)
            if scan.identity is not None and (current != scan.identity or st.st_size < scan.offset):
                scan.reset()
                if on_restart is not None:
                    on_restart()
            scan.identity = current
            fh.seek(scan.offset)
            for raw in fh:
                line = raw.strip()
                if not raw.endswith(b"\n"):
                    # Only the last line can lack its newline: a write cut short by a kill, or
                    # a complete record whose newline never made it. Our next append completes
                    # the line, and then it is read again.
                    if line:
                        scan.tail = _decode(line)
                        scan.torn = scan.tail is None
                    break
                start = scan.offset
                scan.offset += len(raw)
                scan.line += 1
                if not line:
                    continue
                record = _decode(line)
                if record is None:
                    scan.damage()
                    continue
                self._check_tenant(record, scan.line)
                yield start, record
        if scan.tail is not None:
            self._check_tenant(scan.tail, scan.line + 1)

    def _check_tenant(self, record: Mapping[str, Any], line: int) -> None:
        # Runs recorded before run-start lines carried the tenant cannot tell: the folder's
        # name is then the only evidence, and they are read as this tenant's.
        tenant = record.get("tenant") if record.get("kind") == "run-start" else None
        if isinstance(tenant, str) and tenant.strip().lower() != self.tenant_id:
            raise ForeignJournal(self.path, self.tenant_id, tenant[:80], line)

    def _refresh_index(self) -> _Survey:
        """Read what was appended since the last call into the index; returns the survey,
        with the last line if it lacks its newline (as :meth:`iter_records` yields it) folded
        into a copy."""
        with self._read_mutex:
            try:
                for _offset, record in self._scan(self._index, self._clear_index):
                    self._index_record(record)
            except ForeignJournal:
                # Read again from the top next time, so that every read refuses it.
                self._index.reset()
                self._clear_index()
                raise
            self.health = self._index.health()
            survey = self._survey
            if self._index.tail is not None:
                survey = survey.copy()
                survey.feed(self._index.tail)
            return survey

    def _clear_index(self) -> None:
        self._ticks, self._last_success, self._gone = {}, {}, None
        self._not_sent: dict[str, dict[tuple[int, str], int]] = {}
        self._last_not_sent: dict[int, dict[str, Any]] = {}
        self._last_steps: dict[int, dict[str, Any]] = {}
        self._last_t: str | None = None
        self._confirmed: set[str] = set()
        self._survey = _Survey()

    def _index_record(self, rec: dict[str, Any]) -> None:
        kind = rec.get("kind")
        if kind == "tick" and isinstance(rec.get("key"), str):
            self._ticks[rec["key"]] = rec.get("done", True) is not False
        elif kind == "outcome" and rec.get("result") in ("done", "gone"):
            self._last_success[str(rec.get("action"))] = str(rec.get("t"))
        elif kind == "tenant-gone":
            self._gone = rec
        elif kind == "step" and isinstance(rec.get("step"), int):
            self._last_steps[rec["step"]] = rec
        elif kind == "not-sent" and isinstance(rec.get("run"), str):
            _count_not_sent(self._not_sent.setdefault(rec["run"], {}), rec)
            if isinstance(rec.get("step"), int):
                self._last_not_sent[rec["step"]] = rec
        elif kind == "confirm" and rec.get("matched") is True:
            self._confirmed.add(str(rec.get("what")))
        if isinstance(rec.get("t"), str):
            self._last_t = rec["t"]
        self._survey.feed(rec)

    def confirmed(self, what: str) -> bool:
        """Whether a typed confirmation of ``what`` ever matched (e.g. the last resort's)."""
        self._refresh_index()
        return what in self._confirmed

    def last_success(self, action: str) -> datetime | None:
        """When ``action`` last succeeded (any object), e.g. when sync was turned off."""
        self._refresh_index()
        return parse_time(self._last_success.get(action))

    def tenant_gone_record(self) -> dict[str, Any] | None:
        """The last ``tenant-gone`` record: when and how the tenant's deletion was detected."""
        self._refresh_index()
        return self._gone

    def unfinished(self) -> UnfinishedRun | None:
        """The latest run if it never recorded a ``run-end``, with what it left pending.

        Answered from the index (one pass over the file, then only what was appended); a
        journal whose runs interleave (never written so by one closeout at a time) is read
        again in full.
        """
        survey = self._refresh_index()
        if survey.irregular:
            return _unfinished(self.iter_records)
        return survey.unfinished()

    def unsettled(self) -> list[dict[str, Any]]:
        """Writes of any run whose outcome is not known, oldest first.

        An intent with no outcome after it (the process died with the request in flight), or
        whose latest outcome is ``unknown`` (sent, but the answer was lost or could not be
        trusted). Each is the latest intent's fields: step, action, object, label, run and,
        in journals written since they were recorded, the request (method, url, version,
        body) that a fresh read needs to settle it (:mod:`services.settle`).
        """
        return list(self._refresh_index().open_writes.values())

    def manual_ticks(self) -> set[str]:
        """Keys of the manual checklist items currently ticked (the last tick of each wins)."""
        self._refresh_index()
        return {key for key, done in self._ticks.items() if done}

    def outcomes(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """Outcome records of ``run_id`` in order; without one, the latest per (action, object).

        The latest-per-object view is what the organization needs to prove the end state: a
        user that failed in one run and was deleted in the next counts as deleted.
        """
        if run_id is not None:
            return [
                rec
                for rec in self.iter_records()
                if rec["kind"] == "outcome" and rec.get("run") == run_id
            ]
        latest: dict[tuple[Any, Any], dict[str, Any]] = {}
        for rec in self.iter_records():
            if rec["kind"] == "outcome":
                key = (rec.get("action"), rec.get("object"))
                latest.pop(key, None)  # keep the order of the latest outcomes
                latest[key] = rec
        return list(latest.values())


def _count_not_sent(counts: dict[tuple[int, str], int], rec: Mapping[str, Any]) -> None:
    if rec.get("kind") != "not-sent":
        return
    count, step = rec.get("count"), rec.get("step")
    if isinstance(count, int) and isinstance(step, int):
        key = (step, str(rec.get("action")))
        counts[key] = counts.get(key, 0) + count
