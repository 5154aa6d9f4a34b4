"""One way to write a length of time: the TUI's ETA, the headless ETA, a handoff's time left and
a subscription's next change all read services/durations.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.durations import format_duration, time_left, wait_duration


def test_format_duration() -> None:
    assert format_duration(45) == "45s"
    assert format_duration(190) == "3m 10s"
    assert format_duration(2 * 3600 + 5 * 60) == "2h 05m"
    assert format_duration(90_000) == "1d 1h"
    assert format_duration(-3) == "0s"
    assert format_duration(None) == "?"


def test_wait_duration() -> None:
    # What every announced wait says (services.control.Waiting), from the same module.
    assert wait_duration(0.44) == "0.4 s"
    assert wait_duration(9.96) == "10.0 s"
    assert wait_duration(42.4) == "42 s"
    assert wait_duration(303) == "5 min 3 s"
    assert wait_duration(3600) == "1 h 0 min"
    assert wait_duration(52 * 3600) == "52 h 0 min"


def test_time_left() -> None:
    now = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
    assert time_left(now + timedelta(days=3, hours=2, minutes=9), now) == "3d 2h"
    assert time_left(now + timedelta(minutes=12, seconds=5), now) == "12m 05s"
    assert time_left(now, now) == "due"
    assert time_left(now - timedelta(hours=1), now) == "due"


def test_the_tui_and_headless_write_a_duration_alike() -> None:
    from app.tables import countdown
    from services.headless import heartbeat, report
    from widgets import run_progress
    from widgets.handoff_view import format_remaining

    now = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
    later = now + timedelta(hours=5, minutes=3)
    assert countdown(later, now) == format_remaining(later, now) == "5h 03m"
    assert report.format_duration is heartbeat.format_duration is format_duration
    assert run_progress.format_duration is format_duration
