"""Step 5 — delete the directory, as the registry sees it: its checks and handoff
(:mod:`.directory`), its irreversible cleanup (:mod:`.directory_cleanup`), and what it asks
before that cleanup, behind the typed initial domain.

A module of its own because the cleanup builds on the checks: the step joins the two.
"""

from __future__ import annotations

from services import endpoints as E
from services.i18n import N_, _
from services.models import GLOBAL_ADMIN, StepStatus
from services.plan.labels import own_app_text
from services.plan.model import Plan
from services.requirements import StepNeeds, Uses

from . import directory, directory_cleanup
from .base import StepContext
from .manual_checks import MANUAL_ITEMS
from .step import Asking, Assessing, Assessment, Confirmation, Host, Ran, Step


def _assess(a: Assessing) -> Assessment:
    ctx, inv, ticks = a.ctx, a.inventory, a.host.ticks()
    s5 = directory.assess(ctx, inv, ticks, a.states)
    checks = directory.readiness(ctx, inv, ticks)
    # "Delete tenant" is handed over once only what a person does in a portal is left.
    portal = s5.status == StepStatus.WAITING_PERSON and directory.final_stage(checks)
    handoff = directory.delete_tenant_handoff(ctx, checks) if portal else None
    return Assessment(s5, handoff, portal_stage=portal)


def _run(ctx: StepContext, host: Host) -> Ran:
    inv = host.refresh()  # the cleanup acts on what is there now, not at the last watch
    if inv is None:
        return Ran()
    return after_cleanup(ctx, host, directory_cleanup.cleanup(ctx, inv, host.refresh))


def after_cleanup(ctx: StepContext, host: Host, result: directory_cleanup.CleanupResult) -> Ran:
    """What a cleanup (or the last resort) leaves: its failures and, when it deleted closeout's
    own app, the handoff that says what waits in the recycle bin."""
    if not result.own_app_deleted:
        return Ran(failures=tuple(result.failures))
    # Nothing is sent after this: the next read is refused and the watch goes on without a
    # sign-in. The handoff says what closeout left in the recycle bin.
    inv = host.inventory
    handoff = (
        directory.delete_tenant_handoff(
            ctx,
            [c for c in directory.readiness(ctx, inv, host.ticks()) if c.key != directory.OWN_APP],
            own_app_deleted=result.own_app_deleted,
        )
        if inv is not None
        else None
    )
    return Ran(failures=tuple(result.failures), handoff=handoff, sign_in_ends=True)


def cleanup_consequences(plan: Plan | None) -> list[str]:
    """What the typed confirmation allows, with the counts."""

    def count(action: str) -> int:
        return len(plan.ids(action)) if plan else 0

    # closeout's own app first: at 80x24 the first lines are the ones in view.
    own = own_app_text(plan.own_app) if plan else ""
    lines = [own] if own else []
    lines += [
        _("Permanently delete {n:,} users from the recycle bin (no restore after this).").format(
            n=count("purge-user")
        ),
        _(
            "Delete {n:,} applications and {s:,} service principals, and empty the recycle bin "
            "of them."
        ).format(n=count("delete-application"), s=count("delete-service-principal")),
    ]
    if count("delete-self-service-product"):
        lines.append(
            _(
                "You delete {n:,} self-service sign-up products in the Entra admin center "
                "(the handoff lists them)."
            ).format(n=count("delete-self-service-product"))
        )
    lines.append(_("Then you delete the tenant in the Microsoft Entra admin center."))
    return lines


def confirmation(ask: Asking) -> Confirmation:
    plan = ask.plan
    question = ""
    if plan is not None:
        question = (
            _(
                "Permanently delete {p:,} deleted users, {a:,} applications and {s:,} service "
                "principals? This cannot be undone."
            ).format(
                p=len(plan.ids("purge-user")),
                a=len(plan.ids("delete-application")),
                s=len(plan.ids("delete-service-principal")),
            )
            + " "
            + own_app_text(plan.own_app)
        )
    return Confirmation(
        question,
        _("Delete the directory: this cannot be undone"),
        tuple(cleanup_consequences(plan)),
        _("Delete"),
    )


_APPS_DELETE = N_("delete applications and service principals")

NEEDS = StepNeeds(
    roles=(GLOBAL_ADMIN,),
    uses=(
        Uses(E.DELETED_USER_PURGE, N_("permanently delete users in the recycle bin")),
        Uses(E.APPLICATION_DELETE, _APPS_DELETE),
        Uses(E.SERVICE_PRINCIPAL_DELETE, _APPS_DELETE),
        Uses(E.SERVICE_PRINCIPAL_DISABLE, _APPS_DELETE),
        Uses(E.DELETED_APP_PURGE, _APPS_DELETE),
    ),
)

DELETE_DIRECTORY = Step(
    id=directory.STEP,
    name=N_("Delete the directory"),
    short_name=N_("Directory"),
    help=N_(
        "Checks what the portal checks. After you type the initial domain: purges deleted users, deletes "
        "applications and service principals and empties the recycle bin of them. closeout's own app goes last: "
        "you delete it just before the tenant (or closeout does, with --delete-own-app). Then you select Delete "
        "in the Entra admin center; closeout watches until the tenant is gone, even once it can no longer sign in."
    ),
    assess=_assess,
    requires=NEEDS,
    depends_on=directory.DEPENDS_ON,
    run=_run,
    run_label=N_("delete the directory"),
    confirm=confirmation,
    typed_domain=True,
    manual_checks=MANUAL_ITEMS,
)
