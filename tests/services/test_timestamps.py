"""One reader of points in time (services/timestamps.py) for Graph's answers and the journal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.journal.records import format_time
from services.timestamps import parse_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Graph: a Z and seven digits of fraction (Python keeps six).
        ("2025-03-01T10:15:02.1234567Z", datetime(2025, 3, 1, 10, 15, 2, 123456, tzinfo=UTC)),
        ("2025-03-01T10:15:02Z", datetime(2025, 3, 1, 10, 15, 2, tzinfo=UTC)),
        # The journal: milliseconds and a Z.
        ("2025-03-01T10:15:02.123Z", datetime(2025, 3, 1, 10, 15, 2, 123000, tzinfo=UTC)),
        # No offset: UTC, whatever the machine's zone.
        ("2025-03-01T10:15:02", datetime(2025, 3, 1, 10, 15, 2, tzinfo=UTC)),
    ],
)
def test_graph_and_journal_timestamps_read_as_utc(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == timedelta(0)


def test_an_offset_is_kept_as_the_same_moment_in_utc() -> None:
    parsed = parse_time("2025-03-01T12:15:02+02:00")
    assert parsed == datetime(2025, 3, 1, 10, 15, 2, tzinfo=UTC)
    assert parsed is not None and parsed.tzinfo is UTC


def test_what_the_journal_writes_reads_back() -> None:
    moment = datetime(2025, 3, 1, 11, 15, 2, 123000, tzinfo=timezone(timedelta(hours=1)))
    assert parse_time(format_time(moment)) == moment


@pytest.mark.parametrize("value", [None, "", "yesterday", "2025-13-01T00:00:00Z", 1740824102, b"x"])
def test_anything_else_reads_as_unknown(value: object) -> None:
    assert parse_time(value) is None
