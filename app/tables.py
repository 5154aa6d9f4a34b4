"""Rows for the four "what is left" tables, built from the engine's typed Graph shapes.

Cells are ``str``, shown literally (a UPN or display name may contain ``[``, which markup
would eat) and ending in "…" when their column cuts them; the first cell of each row is its
status, as a key the table translates ("pending", "kept", "deleted", …).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rich.text import Text

from services.durations import time_left
from services.i18n import _
from services.models import AppRow, PolicyRow, SubscriptionRow, UserRow

Row = tuple[str, list[str | Text]]


def user_rows(
    users: Iterable[UserRow], kept: frozenset[str], keep_mfa: frozenset[str] = frozenset()
) -> list[Row]:
    """One row per user; ``kept`` are shown "kept", those of them in ``keep_mfa`` "kept+MFA"
    (step 4 leaves their MFA on)."""
    # Plain str cells, never a Text per row: the table makes a cell's Text only when it draws
    # the row, and a row of str alone is no work for the garbage collector (100,000 users held
    # a Text each: ~30 MB, seconds of loop time, 300,000 more objects to walk).
    guest, member, synced = _("guest"), _("member"), _("synced")
    rows: list[Row] = []
    for u in users:
        status = ("kept-mfa" if u.id in keep_mfa else "kept") if u.id in kept else "pending"
        rows.append(
            (
                u.id,
                [
                    status,
                    u.upn,
                    guest if u.is_guest else member,
                    synced if u.synced else "",
                    ", ".join(u.roles),
                ],
            )
        )
    return rows


def countdown(until: datetime | None, now: datetime | None) -> str:
    if until is None:
        return ""
    if now is None:
        return f"{until:%Y-%m-%d %H:%M}"
    return time_left(until, now)


def subscription_rows(subs: Iterable[SubscriptionRow], now: datetime | None) -> list[Row]:
    rows: list[Row] = []
    for s in subs:
        notes = [
            n for n in (_("trial") if s.is_trial else "", _("partner") if s.partner else "") if n
        ]
        rows.append(
            (
                s.id,
                [
                    str(s.phase),
                    s.product.display_name,
                    s.sku_part_number,
                    countdown(s.next_lifecycle, now),
                    ", ".join(notes),
                    s.status,
                ],
            )
        )
    return rows


def app_rows(apps: Iterable[AppRow]) -> list[Row]:
    rows: list[Row] = []
    for a in apps:
        kind = _("application") if a.kind == "application" else _("service principal")
        owner = (
            _("Microsoft")
            if a.is_microsoft
            else (_("this tenant") if a.kind == "application" else _("other"))
        )
        status = "kept" if a.is_microsoft else ("pending" if a.enabled else "disabled")
        rows.append((a.id, [status, a.display_name, kind, owner]))
    return rows


def policy_rows(policies: Iterable[PolicyRow]) -> list[Row]:
    rows: list[Row] = []
    for p in policies:
        kind = _("security defaults") if p.kind == "securityDefaults" else _("Conditional Access")
        status = "report" if p.requires_mfa and p.state != "disabled" else "done"
        rows.append(
            (
                p.id,
                [status, p.display_name, p.state, _("yes") if p.requires_mfa else "", kind],
            )
        )
    return rows
