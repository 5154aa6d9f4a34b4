"""Marking users to keep from the users table (break-glass and service accounts).

``k`` moves the row under the cursor on: not kept → kept → kept with its MFA left on in step 4
→ not kept. ``K`` keeps every row the filter shows, or, when all of them are kept already, takes
their marks off. This module says what a key asks for; the users pane shows it at once and makes
the plan again in a worker through :func:`services.keep.set_kept` (saved as a run's plan is),
then shows each row as the new plan keeps it. Only marks made in closeout come off: the
signed-in admin and the accounts ``--keep``/``--keep-file`` name stay kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.i18n import _, ngettext
from services.keep import MARKED
from widgets import FINAL_STATUSES

if TYPE_CHECKING:
    from services.plan.model import Plan
    from widgets import RemainingTable

KEPT = ("kept", "kept-mfa")


@dataclass(frozen=True)
class KeepRequest:
    """What one key press asks of :func:`~services.keep.set_kept`, and how the rows looked."""

    ids: tuple[str, ...]
    keep: bool
    keep_mfa: bool
    before: Mapping[str, str]
    """Each row's status before the mark: put back if the plan refuses it."""

    @property
    def shown(self) -> str:
        """The status the rows show until the new plan says."""
        if not self.keep:
            return "pending"
        return "kept-mfa" if self.keep_mfa else "kept"


def kept_sets(plan: Plan | None) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """``(kept, keeping MFA, marked in closeout)`` object ids of ``plan``."""
    if plan is None:
        return frozenset(), frozenset(), frozenset()
    return (
        plan.kept_ids,
        frozenset(k.id for k in plan.keep if k.keep_mfa),
        frozenset(k.id for k in plan.keep if k.reason == MARKED),
    )


def status_in(plan: Plan, ids: tuple[str, ...]) -> dict[str, str]:
    """The status each of ``ids`` shows once ``plan`` is made."""
    kept, mfa, _marked = kept_sets(plan)
    return {i: ("kept-mfa" if i in mfa else "kept") if i in kept else "pending" for i in ids}


def request_for(
    table: RemainingTable, plan: Plan | None, *, every_shown: bool
) -> KeepRequest | str:
    """What ``k`` (the cursor row) or ``K`` (every row shown) asks for, or the one line that
    says why it asks nothing."""
    _kept, _mfa, marked = kept_sets(plan)
    if not every_shown:
        key = table.cursor_key
        status = table.status_of(key) if key is not None else None
        if key is None or status is None:
            return _("No user is selected.")
        if status in FINAL_STATUSES:
            return _("This user is deleted already.")
        if status == "kept":
            return KeepRequest((key,), True, True, {key: status})
        if status == "kept-mfa":
            return KeepRequest((key,), False, False, {key: status})
        return KeepRequest((key,), True, False, {key: status})
    rows: dict[str, str] = {}
    for k in table.shown_keys():
        status = table.status_of(k)
        if status is not None and status not in FINAL_STATUSES:
            rows[k] = status
    if not rows:
        return _("No user is shown: / filters the table.")
    unkept = {k: s for k, s in rows.items() if s not in KEPT}
    if unkept:
        return KeepRequest(tuple(unkept), True, False, unkept)
    marks = {k: s for k, s in rows.items() if k in marked}
    if not marks:
        return _("Every user shown is kept by the command line or a keep file, not by a mark.")
    return KeepRequest(tuple(marks), False, False, marks)


def saved_text(request: KeepRequest, plan: Plan) -> str:
    """The line said once the plan is made again."""
    n = len(request.ids)
    if request.keep and request.keep_mfa:
        done = ngettext(
            "{n} user kept with MFA left on", "{n} users kept with MFA left on", n
        ).format(n=f"{n:,}")
    elif request.keep:
        done = ngettext("{n} user marked to keep", "{n} users marked to keep", n).format(n=f"{n:,}")
    else:
        done = ngettext("{n} mark taken off", "{n} marks taken off", n).format(n=f"{n:,}")
    kept = ngettext(
        "the plan keeps {n} account", "the plan keeps {n} accounts", len(plan.keep)
    ).format(n=f"{len(plan.keep):,}")
    return f"{done}; {kept}."
