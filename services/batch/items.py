"""What the batch executor is given and what it gives back: one request on one object
(:class:`BatchItem`), and the final outcome of each (:class:`Outcome`, :class:`ItemResult`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from services.endpoints import Endpoint

__all__ = ["BatchItem", "ItemResult", "Outcome"]

_SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One request on one object. ``url`` is relative to the version root (``/users/{id}``)."""

    key: str
    method: str
    url: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    version: str = "v1.0"
    action: str = ""
    label: str = ""

    @property
    def is_write(self) -> bool:
        return self.method.upper() not in _SAFE_METHODS

    @classmethod
    def of(
        cls,
        call: Endpoint,
        key: str,
        *,
        body: dict[str, Any] | None = None,
        action: str = "",
        label: str = "",
    ) -> BatchItem:
        """``call`` (its row in :mod:`services.endpoints`) on the object ``key``; a body goes
        as JSON."""
        return cls(
            key=key,
            method=call.method,
            url=call.url(id=key) if call.placeholders else call.url(),
            body=body,
            headers={"Content-Type": "application/json"} if body is not None else None,
            version=call.version,
            action=action,
            label=label,
        )


class Outcome(StrEnum):
    """What finally happened to an item."""

    done = "done"  # 2xx
    gone = "gone"  # 404 on a DELETE: already deleted, counts as success
    failed = "failed"  # permanent 4xx, or retries exhausted
    skipped = "skipped"  # not finished because the run stopped; safe to run again
    unknown = "unknown"  # sent, no trustworthy answer: did Graph act on it? A fresh read says


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The final outcome of one item. ``body`` is the sub-response body of a 2xx (GETs)."""

    item: BatchItem
    outcome: Outcome
    status: int | None
    code: str | None
    message: str | None
    request_id: str | None
    attempts: int
    finished_at: datetime
    body: Any = None

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.done, Outcome.gone)

    @property
    def sent(self) -> bool:
        """False for an item that never went out: "not sent" is no outcome of a request."""
        return self.attempts > 0
