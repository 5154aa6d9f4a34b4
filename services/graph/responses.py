"""What one exchange with Graph gives back: the response as callers read it
(:class:`GraphResponse`: body, headers, ``Retry-After``, throttle reading, server time, error)
and the record of it for the log panel (:class:`CallRecord`).
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.errors import GraphError, parse_retry_after
from services.textsafe import json_loads

__all__ = ["CallRecord", "GraphResponse", "parse_throttle_percentage"]


@dataclass(frozen=True)
class CallRecord:
    """One HTTP exchange with Graph (every attempt, every batch POST), for the log panel.

    ``path`` is version-relative with its query, paging cursors shortened; never a token.
    ``status`` is None when no response arrived (then ``error`` says why).
    """

    method: str
    path: str
    version: str | None
    status: int | None
    request_id: str | None
    client_request_id: str
    duration_ms: float
    attempt: int
    error: str | None = None
    batch_size: int | None = None
    sub_statuses: dict[int, int] | None = None
    retry_after: float | None = None
    throttle_percentage: float | None = None


@dataclass(frozen=True)
class GraphResponse:
    """A response as the caller sees it; ``headers`` is case-insensitive."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    method: str
    path: str
    version: str | None
    request_id: str | None
    client_request_id: str
    duration_ms: float
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The decoded JSON body, or None for an empty body (204).

        This is where Graph data enters closeout: every string in it (a name any user of the
        tenant chose) comes out with its control characters neutralised.
        """
        if not self.content.strip():
            return None
        return json_loads(self.content)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))

    @property
    def throttle_percentage(self) -> float | None:
        return parse_throttle_percentage(self.headers.get("x-ms-throttle-limit-percentage"))

    @property
    def date(self) -> datetime | None:
        return _parse_http_date(self.headers.get("Date"))

    def error(self) -> GraphError:
        """This (non-2xx) response as a :class:`GraphError`."""
        return GraphError.from_parts(
            self.status,
            self.content,
            self.headers,
            method=self.method,
            path=_versioned(self.version, self.path),
            client_request_id=self.client_request_id,
        )


def parse_throttle_percentage(value: str | None) -> float | None:
    """``x-ms-throttle-limit-percentage`` as a float (``"0.95"`` → 0.95); None if absent/bad."""
    if value is None:
        return None
    try:
        number = float(value.strip().rstrip("%"))
    except ValueError:
        return None
    if number != number or number < 0:
        return None
    # Tolerate a percent form ("95") although Graph documents the 0.8–1.8 ratio form.
    return number / 100 if number > 10 else number


def _parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _versioned(version: str | None, path: str) -> str:
    return f"/{version}{path}" if version else path
