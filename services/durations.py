"""How closeout writes a length of time, in one module and two forms.

- Compact, for cells and progress lines (the run's ETA in the TUI and headless, the time left in
  a handoff, the subscriptions' next change): two units, the larger first, ``45s``, ``3m 10s``,
  ``2h 05m``, ``1d 3h`` (:func:`format_duration`, :func:`time_left`).
- For a person to read in a sentence (snapshot and rehearsal reports): rounded to what matters
  at its size, in the chosen language, ``45 s``, ``12 min``, ``3 h 20 min``, ``2 d 4 h``
  (:func:`human_duration`).

The device code's expiry is not a duration but a clock counting down (``14:32``,
widgets/device_code.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .i18n import _

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["format_duration", "human_duration", "time_left"]


def format_duration(seconds: float | None) -> str:
    """``45s``, ``3m 10s``, ``2h 05m``, ``1d 3h``; ``?`` when unknown, ``0s`` for less than none."""
    if seconds is None:
        return "?"
    total = max(0, round(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02}m"
    if minutes:
        return f"{minutes}m {secs:02}s"
    return f"{secs}s"


def time_left(until: datetime, now: datetime) -> str:
    """The time from ``now`` until ``until`` (both aware), or ``due`` once it has come."""
    left = int((until - now).total_seconds())
    return _("due") if left <= 0 else format_duration(left)


def human_duration(seconds: float) -> str:
    """``seconds`` rounded to what matters at its size, in the chosen language."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return _("{n:.0f} s").format(n=seconds)
    minutes = seconds / 60
    if minutes < 90:
        return _("{n:.0f} min").format(n=minutes)
    hours = int(minutes // 60)
    if hours < 48:
        return _("{h} h {m} min").format(h=hours, m=int(minutes % 60))
    return _("{d} d {h} h").format(d=hours // 24, h=hours % 24)
