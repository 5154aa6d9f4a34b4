"""Step 0 — before you begin: who is signed in, with which roles and permissions, and the
inventory exported as the backup the article asks for (the evidence pack's "before")."""

from __future__ import annotations

from collections.abc import Sequence

from services import endpoints as E
from services.data_owners import some_names
from services.evidence.layout import DATA_OWNERS_FILE
from services.i18n import N_, _, ngettext
from services.inventory.model import Inventory
from services.models import StepId, StepState, StepStatus
from services.requirements import Missing, StepNeeds, Uses

from .base import StepContext, state
from .step import Assessing, Assessment, Host, Ran, Step

STEP = StepId.PREPARE


def inventory_counts(inv: Inventory) -> str:
    """``40 users, 1 subscription, 4 applications``: what the inventory holds, each noun in
    its number."""
    users, subs, apps = len(inv.users), len(inv.subscriptions), len(inv.applications)
    return ", ".join(
        (
            # The number in thousands ("40,000 users"), the noun chosen by the number itself.
            ngettext("{n} user", "{n} users", users).format(n=f"{users:,}"),
            ngettext("{n} subscription", "{n} subscriptions", subs).format(n=f"{subs:,}"),
            ngettext("{n} application", "{n} applications", apps).format(n=f"{apps:,}"),
        )
    )


def assess(
    missing: list[Missing], inv: Inventory | None, exported: bool, hints: Sequence[Missing] = ()
) -> StepState:
    """``hints``: what a readable token's claims say is missing, shown as notes only."""
    if missing:
        return state(
            STEP,
            StepStatus.FAILED,
            _("A role or permission is missing."),
            blockers=tuple(m.text() for m in missing),
        )
    if inv is None:
        return state(STEP, StepStatus.PENDING, _("Read the tenant and export the inventory."))
    notes = [m.hint_text() for m in hints]
    if inv.data_holders:
        upns = [u.upn for u in inv.data_holders]
        notes.append(
            ngettext(
                "{n} user holds mailbox or OneDrive data: back it up before step 1.",
                "{n} users hold mailbox or OneDrive data: back it up before step 1.",
                len(upns),
            ).format(n=len(upns))
        )
        # The first few here; the whole list in every evidence pack, its sizes from the reports.
        notes.append(some_names(upns))
        notes.append(
            _(
                "Export them: the evidence pack (e, or closeout export) lists them all in "
                "{file}; closeout data-owners --out FILE adds their mailbox and OneDrive sizes."
            ).format(file=DATA_OWNERS_FILE)
        )
    notes += [
        _("Could not read {part}: {reason}").format(part=k, reason=v) for k, v in inv.errors.items()
    ]
    summary = (
        _("{counts}; inventory exported.").format(counts=inventory_counts(inv))
        if exported
        else _("Inventory read; not yet exported.")
    )
    return state(
        STEP,
        StepStatus.DONE if exported else StepStatus.PENDING,
        summary,
        done=1 if exported else 0,
        total=1,
        blockers=tuple(notes),
    )


def _assess(a: Assessing) -> Assessment:
    return Assessment(assess(a.host.missing(), a.inventory, a.host.exported, a.host.hints()))


def _run(ctx: StepContext, host: Host) -> Ran:
    """Re-read the tenant and make a new plan from it (saved when the session records)."""
    host.refresh()
    host.make_plan()
    return Ran(fresh=True)


_USERS = N_("read users, their sync state and licences")
_ORGANIZATION = N_("read the organization and its subscriptions")
_APPS = N_("read applications and service principals")
_ROLES = N_("read who holds which admin role")

# Step 0's own first reads (the organization, /me and its roles) come before any requirement
# can be checked: a refusal there is Graph's to say.
NEEDS = StepNeeds(
    uses=(
        Uses(E.ORGANIZATION, N_("read whether directory sync is on"), whole=True),
        Uses(E.DIRECTORY_ROLES, _ROLES),
        Uses(E.ROLE_MEMBERS, _ROLES),
        Uses(E.SUBSCRIBED_SKUS, _ORGANIZATION),
        Uses(E.USERS, _USERS),
        Uses(E.DELETED_USERS, _USERS),
        Uses(E.SUBSCRIPTIONS, _ORGANIZATION),
        Uses(E.APPLICATIONS, _APPS),
        Uses(E.DELETED_APPLICATIONS, _APPS),
        Uses(E.SERVICE_PRINCIPALS, _APPS),
        Uses(E.DELETED_SERVICE_PRINCIPALS, _APPS),
        Uses(E.SECURITY_DEFAULTS, N_("read security defaults")),
        Uses(E.CA_POLICIES, N_("read Conditional Access policies")),
    ),
    reading=True,
)

PREPARE = Step(
    id=STEP,
    name=N_("Before you begin"),
    short_name=N_("Prepare"),
    help=N_(
        "Signs you in, checks your roles and the permissions granted, reads everything and saves the inventory "
        "as the backup the article asks for. Users with mailbox or OneDrive data are listed: back them up first."
    ),
    assess=_assess,
    requires=NEEDS,
    run=_run,
    run_label=N_("re-read and plan"),
    plans=True,
)
