"""How closeout writes a length of time: every form in this one module.

- Compact, for cells and progress lines (the run's ETA in the TUI and headless, the time left in
  a handoff, the subscriptions' next change): two units, the larger first, ``45s``, ``3m 10s``,
  ``2h 05m``, ``1d 3h`` (:func:`format_duration`, :func:`time_left`).
- For a person to read in a sentence (snapshot and rehearsal reports): rounded to what matters
  at its size, in the chosen language, ``45 s``, ``12 min``, ``3 h 20 min``, ``2 d 4 h``
  (:func:`human_duration`).
- For a wait closeout announces (Graph's ``Retry-After``, an outage, the next poll): to the
  tenth of a second under ten seconds, then to the second, ``0.4 s``, ``42 s``, ``5 min 3 s``,
  ``1 h 0 min`` (:func:`wait_duration`, in every :class:`~services.control.Waiting`).

The device code's expiry is not a duration but a clock counting down (``14:32``,
widgets/device_code.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .i18n import _

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["format_duration", "human_duration", "time_left", "wait_duration"]


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


def wait_duration(seconds: float) -> str:
    """``0.4 s``, ``42 s``, ``5 min 3 s``, ``1 h 0 min``: a wait's length at a glance."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"
