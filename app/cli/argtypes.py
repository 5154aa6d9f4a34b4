"""The argument types of closeout's numeric options: every number has a floor and a ceiling.

A value outside them, ``nan``, ``inf`` or a word is a usage error at parse time (exit 2, one
line naming the option and the range), never a traceback later and never a value that quietly
makes closeout poll Graph thousands of times a second or sleep past the end of time. Each option
gets its own named type here, so its range is stated once and shown in the same words wherever
the option appears. Light on purpose: the parser imports it.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from services.i18n import _

__all__ = [
    "LATENCY_MS",
    "POLL_INTERVAL",
    "PORT",
    "SEED",
    "TIME_SCALE",
    "USERS",
    "fault_spec",
    "float_between",
    "int_between",
    "positive_float",
    "positive_int",
]


def _shown(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def int_between(low: int, high: int) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high`` (both included)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(
                _("{text!r} is not a whole number").format(text=text[:40])
            ) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                _("must be from {low} to {high}, not {text}").format(
                    low=_shown(low), high=_shown(high), text=text[:40]
                )
            )
        return value

    return parse


def float_between(low: float, high: float, *, open_low: bool = False) -> Callable[[str], float]:
    """A finite number from ``low`` to ``high`` (``open_low``: more than ``low``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                _("{text!r} is not a number").format(text=text[:40])
            ) from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(
                _("{text!r} is not a finite number").format(text=text[:40])
            )
        if not (low < value if open_low else low <= value) or value > high:
            raise argparse.ArgumentTypeError(
                _("must be from {low} to {high}, not {text}").format(
                    low=_shown(low), high=_shown(high), text=text[:40]
                )
            )
        return value

    return parse


# Seconds between reads while waiting. The floor lets a test poll a fast sandbox; a real tenant
# has a higher one (services.session.REAL_POLL_FLOOR). The ceiling: a wait says "until when", and
# learning an hour late that sync is off is already slow.
POLL_INTERVAL = float_between(0.05, 3600.0)
# Demo and sandbox tenant sizes: 100,000 users must work; far beyond that the process runs out
# of memory instead of saying so.
USERS = int_between(1, 200_000)
SEED = int_between(0, 2**32 - 1)
# Simulated seconds per real second. Below 0.01 a 150 s write window lasts hours; beyond a
# million a 72-hour wait is over before the first read.
TIME_SCALE = float_between(0.01, 1_000_000.0)
PORT = int_between(0, 65_535)
"""0: any free port."""
LATENCY_MS = float_between(0.0, 60_000.0)


def fault_spec(text: str) -> str:
    """``sandbox serve --faults``: checked by the sandbox's own parser at parse time."""
    from services.sandbox.faults import Faults

    try:
        Faults().parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


# For options without a range of their own (kept for commands that use them): finite, above
# zero, below a billion.
positive_int = int_between(1, 10**9)
positive_float = float_between(0.0, 1e9, open_low=True)
