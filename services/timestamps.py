"""Reading a point in time from outside the process: Graph's timestamps and the journal's.

Graph writes ISO 8601 in UTC with a ``Z`` and up to seven digits of fraction
(``2025-03-01T10:15:02.1234567Z``); the journal writes UTC to the millisecond
(:func:`services.journal.records.format_time`). Both are read here, into an aware datetime in
UTC. A value that is absent or not a timestamp reads as None (shown as unknown), never as an
error: what Graph or a file on disk holds is not ours to trust.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["parse_time"]


def parse_time(value: object) -> datetime | None:
    """An aware UTC datetime, or None when ``value`` is absent or not an ISO 8601 timestamp.

    A timestamp without an offset is taken as UTC, which is all Graph and the journal write:
    reading it as local time would move it by the machine's offset.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
