"""The pack's rows: the latest outcome of each object and action in a journal (as a list,
or by offset for a 100,000-object run), each as an evidence row whose cells no
spreadsheet runs as a formula, and the tally the summaries take from the rows.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from services.journal.records import format_time
from services.journal.writer import Journal

# Spreadsheet apps evaluate cells starting with these as formulas (OWASP "CSV injection"),
# including the full-width forms some of them normalise.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def outcomes_from_journal(
    records: Iterable[Mapping[str, Any]], *, run_id: str | None = None
) -> list[dict[str, Any]]:
    """The latest outcome of each (action, object) as an evidence row (:data:`COLUMNS`).

    Only records of ``run_id`` count, if given. A user that failed in one run and was deleted
    in the next is one row, deleted; ``attempts`` says how many times its request was sent
    (intent lines). ``records`` is consumed once, in file order (a stream is fine): memory
    grows with the objects, not with the journal's history.
    """
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    sent: Counter[tuple[str, str]] = Counter()
    for rec in records:
        kind = rec.get("kind")
        if kind not in ("intent", "outcome") or (run_id is not None and rec.get("run") != run_id):
            continue
        key = (str(rec.get("action")), str(rec.get("object")))
        if kind == "intent":
            sent[key] += 1
        else:
            latest.pop(key, None)  # keep the order of the latest outcomes
            latest[key] = evidence_row(rec)
    for key, row in latest.items():
        row["attempts"] = sent[key]
    return list(latest.values())


class LatestOutcomes:
    """The latest outcome of each (action, object) in a journal, remembered by where its line
    is, not by its contents: a 100,000-object run is 100,000 offsets and counts in memory,
    and :meth:`rows` reads the lines again as the pack is written (what
    :func:`outcomes_from_journal` returns, a row at a time).
    """

    def __init__(
        self,
        journal: Journal,
        records: Iterable[tuple[int, Mapping[str, Any]]] | None = None,
        *,
        run_id: str | None = None,
    ) -> None:
        """``records``: ``journal.iter_positioned()`` (the default), or a stream of it a caller
        watches on the way."""
        self._journal = journal
        self._latest: dict[str, tuple[int, str]] = {}
        self._sent: Counter[str] = Counter()
        for offset, rec in records if records is not None else journal.iter_positioned():
            kind = rec.get("kind")
            if kind not in ("intent", "outcome") or (
                run_id is not None and rec.get("run") != run_id
            ):
                continue
            key = f"{rec.get('action')}\x00{rec.get('object')}"
            if kind == "intent":
                self._sent[key] += 1
            else:
                self._latest.pop(key, None)  # keep the order of the latest outcomes
                self._latest[key] = (offset, sys.intern(str(rec.get("result"))))

    def __len__(self) -> int:
        return len(self._latest)

    def counts(self) -> dict[str, int]:
        """How many objects ended with each result."""
        return dict(Counter(result for _offset, result in self._latest.values()))

    def rows(self) -> Iterator[dict[str, Any]]:
        """One evidence row (:data:`COLUMNS`) per object and action, in the order of their
        latest outcomes. Raises ValueError if the journal file was replaced meanwhile."""
        offsets = sorted(offset for offset, _result in self._latest.values())
        for rec in self._journal.records_at(offsets):
            if rec.get("kind") != "outcome":
                raise ValueError(f"{self._journal.path} changed while it was read")
            key = f"{rec.get('action')}\x00{rec.get('object')}"
            row = evidence_row(rec)
            row["attempts"] = self._sent[key]
            yield row


class Tally:
    """What the summaries need from the rows, gathered as they stream past."""

    def __init__(self) -> None:
        self.objects = 0
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.failures: list[dict[str, Any]] = []
        self.unknown: list[dict[str, Any]] = []
        self.first: str | None = None
        self.last: str | None = None

    def add(self, row: dict[str, Any]) -> None:
        self.objects += 1
        step = str(row["step"] if row["step"] is not None else "")
        self.counts[(step, str(row["action"] or ""), str(row["result"]))] += 1
        if row["result"] == "failed":
            self.failures.append(row)
        elif row["result"] == "unknown":
            self.unknown.append(row)
        if row["time"]:
            time = str(row["time"])
            self.first = time if self.first is None else min(self.first, time)
            self.last = time if self.last is None else max(self.last, time)


def _first(src: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = src.get(key)
        if value is not None:
            return value
    return None


def evidence_row(src: Mapping[str, Any]) -> dict[str, Any]:
    """One evidence row from a row dict or a journal outcome record."""
    time = _first(src, "time", "at", "t")
    if isinstance(time, datetime):
        time = format_time(time if time.tzinfo else time.replace(tzinfo=UTC))
    return {
        "time": time,
        "step": _first(src, "step"),
        "action": _first(src, "action"),
        "object_id": _first(src, "object_id", "object"),
        "label": _first(src, "label"),
        "result": _first(src, "result", "outcome"),
        "attempts": _first(src, "attempts"),
        "http_status": _first(src, "http_status", "status"),
        "code": _first(src, "code"),
        "message": _first(src, "message"),
        "request_id": _first(src, "request_id"),
    }


def csv_cell(value: Any) -> str:
    """``value`` as a CSV cell no spreadsheet runs as a formula."""
    if value is None:
        return ""
    text = str(value)
    # Leading spaces do not stop every spreadsheet from evaluating what follows.
    if text.lstrip(" ").startswith(_FORMULA_START):
        return "'" + text
    return text
