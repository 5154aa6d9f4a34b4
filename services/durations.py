"""Durations for a person to read: ``45 s``, ``12 min``, ``3 h 20 min``, ``2 d 4 h``."""

from __future__ import annotations

from .i18n import _

__all__ = ["human_duration"]


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
