"""Checking a plan before it is applied: a saved plan may have been edited by hand, so it
is held to the rules :func:`services.plan.build.build_plan` follows.
"""

from __future__ import annotations

from services.caller import Caller
from services.i18n import _
from services.inventory.model import Inventory
from services.models import (
    GLOBAL_ADMIN,
)

from .model import Plan, PlanError


def check_plan(plan: Plan, caller: Caller, inv: Inventory | None = None) -> None:
    """Refuse a plan (a saved one may have been edited by hand) that is unsafe to apply.

    The same rules :func:`build_plan` follows: the signed-in admin is kept, no kept account is
    in the delete set or loses MFA, and (when the inventory is known) a kept account is a
    Global Administrator. Raises :class:`PlanError` before anything is sent.
    """
    me = None if caller.app_only else caller.tenant.signed_in_id
    protected = set(plan.kept_ids) | ({me} if me else set())
    labels = {k.id: k.upn for k in plan.keep}
    if me:
        labels.setdefault(me, caller.tenant.signed_in_upn or me)
    hint = _("Make a new plan with: closeout plan")
    if me and me not in plan.kept_ids:
        raise PlanError(
            _(
                "The saved plan does not keep {upn}, the signed-in admin; nothing was changed."
            ).format(upn=labels[me]),
            hint,
        )
    # Who keeps MFA: the admin doing the work (app-only: every kept account); other kept
    # accounts legitimately lose per-user MFA in step 4.
    mfa_exempt = (
        set(plan.kept_ids) if caller.app_only else {me} | {k.id for k in plan.keep if k.keep_mfa}
    )
    for action, guarded in (
        ("delete-user", protected),
        ("purge-user", protected),
        ("disable-mfa", mfa_exempt),
    ):
        hit = [a for a in plan.actions if a.action == action and a.object_id in guarded]
        if hit:
            raise PlanError(
                _(
                    "The saved plan would {action} {upn}, an account closeout keeps; "
                    "nothing was changed."
                ).format(action=action, upn=labels.get(hit[0].object_id, hit[0].label)),
                hint,
            )
    if inv is not None:
        ga_members = set(inv.roles.get(GLOBAL_ADMIN, []))
        if ga_members and not (plan.kept_ids & ga_members):
            raise PlanError(
                _(
                    "None of the accounts the saved plan keeps is a Global Administrator; the "
                    "last one would be deleted. Nothing was changed."
                ),
                hint,
            )
