"""Building a plan from a fresh inventory (read-only to make): the accounts to keep, the
actions of each step in the order they are carried out, the warnings, and what happens
to the app closeout signs in with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.caller import Caller
from services.data_owners import some_names
from services.i18n import _, ngettext
from services.inventory.model import Inventory
from services.keep import KeepEntry, entries_for
from services.keep import resolve as resolve_keep
from services.models import (
    GLOBAL_ADMIN,
    MICROSOFT_TENANT_IDS,
    StepId,
    SubscriptionPhase,
    UserRow,
)
from services.own_app import OwnApp, find_own_app
from services.self_service import split as split_self_service
from services.steps.dirsync import connect_advice

from .labels import subscription_label
from .model import KeptAccount, Plan, PlanError, PlannedAction


@dataclass(frozen=True)
class PlanOptions:
    keep_upns: tuple[str, ...] = ()
    keep_entries: tuple[KeepEntry, ...] = ()
    """Keep files' lines and the accounts marked in closeout (``services.keep``)."""
    disable_security_defaults: bool = False
    disable_ca_mfa: bool = False
    own_app_ids: frozenset[str] = frozenset()
    delete_own_app: bool = False


def kept_accounts(
    inv: Inventory,
    caller: Caller,
    keep_upns: tuple[str, ...],
    entries: tuple[KeepEntry, ...] = (),
) -> tuple[KeptAccount, ...]:
    me = caller.tenant.signed_in_id
    signed_in = (me, caller.tenant.signed_in_upn or "") if me and not caller.app_only else None
    kept = resolve_keep(entries_for(keep_upns, entries), inv.users, signed_in=signed_in)
    if caller.app_only and not kept:
        raise PlanError(
            _("App-only sign-in has no signed-in user, so closeout cannot tell whom to keep."),
            _("Name the Global Administrator who will delete the tenant with --keep UPN."),
        )
    return tuple(kept)


def _ordered_deletes(users: list[UserRow]) -> list[UserRow]:
    # Ordinary users first, guests next, role holders last: should anything stop the run, the
    # admins who can finish it are still there.
    return sorted(users, key=lambda u: (bool(u.role_ids), u.is_guest, u.upn.lower()))


def build_plan(inv: Inventory, caller: Caller, options: PlanOptions) -> Plan:
    kept = kept_accounts(inv, caller, options.keep_upns, options.keep_entries)
    kept_ids = {k.id for k in kept}
    ga_members = set(inv.roles.get(GLOBAL_ADMIN, []))
    if ga_members and not (kept_ids & ga_members):
        raise PlanError(
            _(
                "None of the accounts to keep is a Global Administrator; the last one would be deleted."
            ),
            _("Keep a Global Administrator: sign in as one, or name one with --keep."),
        )
    actions: list[PlannedAction] = []
    warnings: list[str] = []
    org_id = inv.tenant.id

    # Step 1: directory sync, then users.
    if inv.synced_users:
        actions.append(
            PlannedAction(
                StepId.DELETE_USERS,
                "disable-directory-sync",
                org_id,
                inv.tenant.display_name,
                ngettext(
                    "{n} user is synchronized from on-premises AD; turning sync off takes up to "
                    "72 hours and is sent once. Users who are not synchronized are deleted "
                    "meanwhile, the others once they are converted.",
                    "{n} users are synchronized from on-premises AD; turning sync off takes up to "
                    "72 hours and is sent once. Users who are not synchronized are deleted "
                    "meanwhile, the others once they are converted.",
                    len(inv.synced_users),
                ).format(n=len(inv.synced_users)),
            )
        )
        warnings.append(connect_advice())
    deletes = _ordered_deletes([u for u in inv.users if u.id not in kept_ids])
    for u in deletes:
        detail = ", ".join(
            filter(
                None,
                [
                    _("guest") if u.is_guest else "",
                    ", ".join(u.roles),
                    _("synced") if u.synced else "",
                ],
            )
        )
        actions.append(PlannedAction(StepId.DELETE_USERS, "delete-user", u.id, u.upn, detail))

    # Steps 2 and 3: subscriptions (no API: handoffs). Self-service sign-up products are step
    # 5's: only the Entra admin center deletes them.
    bought, self_service = split_self_service(inv.subscriptions)
    for s in bought:
        label = subscription_label(s)
        sku = {
            "sku_id": s.sku_id,
            "sku_part_number": s.sku_part_number,
            "product_name": s.product.display_name,
        }
        if s.phase == SubscriptionPhase.ACTIVE:
            action = "contact-partner" if s.partner else "cancel-subscription"
            actions.append(
                PlannedAction(
                    StepId.CANCEL_SUBSCRIPTIONS, action, s.id, label, kind="handoff", **sku
                )
            )
        elif s.phase == SubscriptionPhase.EXPIRED:
            actions.append(
                PlannedAction(
                    StepId.CANCEL_SUBSCRIPTIONS,
                    "wait-expired",
                    s.id,
                    label,
                    _("expired; becomes disabled by itself"),
                    kind="handoff",
                    **sku,
                )
            )
        if s.phase != SubscriptionPhase.DELETED:
            actions.append(
                PlannedAction(
                    StepId.DELETE_SUBSCRIPTIONS,
                    "delete-subscription",
                    s.id,
                    label,
                    kind="handoff",
                    **sku,
                )
            )

    # Step 4: per-user MFA for the accounts that remain, except whoever does the work.
    mfa_exempt = {caller.tenant.signed_in_id} if not caller.app_only else kept_ids
    for k in kept:
        if k.id not in mfa_exempt and not k.keep_mfa:
            actions.append(PlannedAction(StepId.DISABLE_MFA, "disable-mfa", k.id, k.upn))
    for p in inv.policies:
        if p.kind == "securityDefaults" and p.state == "enabled":
            act = (
                "disable-security-defaults"
                if options.disable_security_defaults
                else "report-security-defaults"
            )
            actions.append(
                PlannedAction(
                    StepId.DISABLE_MFA,
                    act,
                    p.id,
                    p.display_name,
                    kind="api" if options.disable_security_defaults else "report",
                )
            )
        elif p.kind == "conditionalAccess" and p.requires_mfa and p.state != "disabled":
            act = "disable-ca-policy" if options.disable_ca_mfa else "report-ca-policy"
            actions.append(
                PlannedAction(
                    StepId.DISABLE_MFA,
                    act,
                    p.id,
                    p.display_name,
                    p.state,
                    kind="api" if options.disable_ca_mfa else "report",
                )
            )

    # Step 5: irreversible cleanup, then the portal's 'Delete tenant'. closeout's own app is
    # in none of the deletes: it goes last, by closeout or by the admin.
    own = find_own_app(options.own_app_ids, inv.applications, inv.service_principals)
    for s in self_service:
        if s.phase != SubscriptionPhase.DELETED:
            actions.append(
                PlannedAction(
                    StepId.DELETE_DIRECTORY,
                    "delete-self-service-product",
                    s.id,
                    subscription_label(s),
                    _("self-service sign-up product: Entra admin center > Licenses"),
                    kind="handoff",
                    sku_id=s.sku_id,
                    sku_part_number=s.sku_part_number,
                    product_name=s.product.display_name,
                )
            )
    for d in inv.deleted_users:
        actions.append(
            PlannedAction(
                StepId.DELETE_DIRECTORY,
                "purge-user",
                str(d["id"]),
                str(d.get("userPrincipalName") or ""),
            )
        )
    for u in deletes:
        actions.append(
            PlannedAction(StepId.DELETE_DIRECTORY, "purge-user", u.id, u.upn, _("after step 1"))
        )
    for a in inv.applications:
        if a.id not in own.object_ids:
            actions.append(
                PlannedAction(StepId.DELETE_DIRECTORY, "delete-application", a.id, a.display_name)
            )
    for sp in inv.service_principals:
        # The tenant's own apps' principals usually go with their application (then: 404 =
        # gone); Microsoft's are left alone.
        if sp.owner_tenant_id not in MICROSOFT_TENANT_IDS and sp.id not in own.object_ids:
            actions.append(
                PlannedAction(
                    StepId.DELETE_DIRECTORY, "delete-service-principal", sp.id, sp.display_name
                )
            )
    for action, binned in (
        ("purge-application", inv.deleted_applications),
        ("purge-service-principal", inv.deleted_service_principals),
    ):
        for d in binned:
            if not own.holds(d):
                actions.append(
                    PlannedAction(
                        StepId.DELETE_DIRECTORY,
                        action,
                        str(d["id"]),
                        str(d.get("displayName") or ""),
                        _("in the recycle bin"),
                    )
                )
    for o in own.blocking:
        if options.delete_own_app:
            actions.append(
                PlannedAction(
                    StepId.DELETE_DIRECTORY,
                    "delete-own-app",
                    o.id,
                    o.display_name,
                    _("the very last write: after it closeout can no longer sign in"),
                )
            )
        else:
            actions.append(
                PlannedAction(
                    StepId.DELETE_DIRECTORY,
                    "hand-off-own-app",
                    o.id,
                    o.display_name,
                    _("closeout signs in with it: you delete it last, just before the tenant"),
                    kind="handoff",
                )
            )
    actions.append(
        PlannedAction(
            StepId.DELETE_DIRECTORY,
            "delete-tenant",
            org_id,
            inv.tenant.initial_domain,
            kind="handoff",
        )
    )

    if len(kept) > 1:
        warnings.append(
            _(
                "{n} accounts are kept. The tenant can only be deleted with one Global Administrator "
                "left: delete the others yourself before step 5."
            ).format(n=len(kept))
        )
    if inv.data_holders:
        warnings.append(
            ngettext(
                "{n} user has mailbox or OneDrive data; back it up before step 1: {names}.",
                "{n} users have mailbox or OneDrive data; back it up before step 1: {names}.",
                len(inv.data_holders),
            ).format(n=len(inv.data_holders), names=some_names([u.upn for u in inv.data_holders]))
        )
    for part, reason in inv.errors.items():
        warnings.append(_("Could not read {part}: {reason}").format(part=part, reason=reason))
    plan = Plan(
        tenant=inv.tenant,
        created_at=inv.taken_at,
        keep=kept,
        actions=tuple(actions),
        warnings=tuple(warnings),
        data_holders=len(inv.data_holders),
        own_app=own_app_summary(own, options.delete_own_app),
    )
    if set(plan.user_delete_ids()) & plan.kept_ids:  # defence in depth; see kept_accounts
        raise PlanError(_("Internal error: a kept account ended up in the delete set."))
    return plan


def own_app_summary(own: OwnApp, delete_own_app: bool) -> dict[str, Any]:
    """What happens to the app closeout signs in with, for the plan's JSON and its text.

    ``handling``: ``delete-last`` (closeout deletes it as its very last write), ``hand-off``
    (left for the admin, named in step 5's handoff), ``microsoft`` (Microsoft's public
    client: its service principal is Microsoft's and stays, like every Microsoft one), or
    ``absent`` (not registered in this tenant).
    """
    if own.blocking:
        handling = "delete-last" if delete_own_app else "hand-off"
    elif own.service_principals:
        handling = "microsoft"
    else:
        handling = "absent"
    return {
        "appIds": sorted(own.app_ids),
        "handling": handling,
        "objects": [
            {"id": o.id, "name": o.display_name, "kind": o.kind}
            for o in (own.blocking or own.service_principals)
        ],
    }
