"""Step 5 — delete the directory. Readiness checks mirroring the portal's (DELTEN, KB2967860),
then, only after the typed initial domain, the irreversible cleanup (purge deleted users, delete
applications and service principals, disable those that refuse), then the portal handoff for
"Delete tenant" and a watch that reports the tenant gone (graph-api.md §6).
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

from services.batch import BatchItem, Outcome
from services.i18n import N_, _
from services.inventory import Inventory
from services.models import Handoff, HandoffItem, StepId, StepState, StepStatus, SubscriptionPhase

from .base import StepContext, failed_results, state

STEP = StepId.DELETE_DIRECTORY
SP_DELETE_ROUNDS = 3

# The checks no API can answer; the admin ticks them (journalled).
MANUAL_ITEMS: dict[str, tuple[str, str]] = {
    "invoices": (
        N_("All outstanding invoices are paid."),
        N_("Microsoft 365 admin center > Billing > Bills & payments"),
    ),
    "self-service": (
        N_("No self-service sign-up products remain (Power BI, Power Apps, Power Automate…)."),
        N_(
            "Microsoft Entra admin center > Identity > Billing > Licenses > Self-service sign-up products > Delete"
        ),
    ),
    "azure": (
        N_("No Azure subscription (active or cancelled) is associated with the directory."),
        N_(
            "Azure portal > Subscriptions: cancel and delete them, or transfer them to another directory"
        ),
    ),
}


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    ok: bool
    cleanup_fixes: bool = False
    detail: str = ""


def readiness(ctx: StepContext, inv: Inventory, ticks: set[str]) -> list[Check]:
    """The portal's checks, as far as Graph shows them, plus the admin's ticked manual items."""
    others = [u for u in inv.users if u.id not in ctx.kept_ids]
    kept_left = [u for u in inv.users if u.id in ctx.kept_ids]
    third_party = [sp for sp in inv.service_principals if not sp.is_microsoft and sp.enabled]
    subs_left = [s for s in inv.subscriptions if s.phase != SubscriptionPhase.DELETED]
    checks = [
        Check(
            "users",
            _("Only one Global Administrator remains"),
            not others and len(kept_left) <= 1,
            detail=_("{n} other users remain").format(n=len(others) + max(0, len(kept_left) - 1)),
        ),
        Check(
            "recycle-bin",
            _("No deleted users in the recycle bin"),
            not inv.deleted_users,
            True,
            _("{n} deleted users").format(n=len(inv.deleted_users)),
        ),
        Check(
            "applications",
            _("No applications"),
            not inv.applications and not inv.deleted_applications,
            True,
            _("{n} applications").format(n=len(inv.applications) + len(inv.deleted_applications)),
        ),
        Check(
            "service-principals",
            _("No non-Microsoft service principals"),
            not third_party,
            True,
            _("{n} enterprise applications").format(n=len(third_party)),
        ),
        Check(
            "subscriptions",
            _("Every subscription is deprovisioned"),
            not subs_left,
            detail=_("{n} subscriptions not yet deleted").format(n=len(subs_left)),
        ),
    ]
    for key, (label, where) in MANUAL_ITEMS.items():
        checks.append(Check(f"manual:{key}", _(label), key in ticks, detail=_(where)))
    return checks


def assess(
    ctx: StepContext,
    inv: Inventory,
    ticks: set[str],
    earlier: dict[StepId, StepState],
    *,
    gone: bool = False,
) -> StepState:
    if gone:
        return state(STEP, StepStatus.DONE, _("The tenant is deleted."), done=1, total=1)
    not_done = [
        s
        for s in (
            StepId.DELETE_USERS,
            StepId.CANCEL_SUBSCRIPTIONS,
            StepId.DELETE_SUBSCRIPTIONS,
            StepId.DISABLE_MFA,
        )
        if earlier.get(s) is None or earlier[s].status != StepStatus.DONE
    ]
    checks = readiness(ctx, inv, ticks)
    failing = [c for c in checks if not c.ok]
    blockers = tuple(f"{c.label}: {c.detail}" for c in failing)
    if not_done:
        return state(
            STEP,
            StepStatus.BLOCKED,
            _("Waits for steps {steps}.").format(steps=", ".join(str(int(s)) for s in not_done)),
            blockers=blockers,
            total=len(checks),
            done=len(checks) - len(failing),
        )
    manual = [c for c in failing if c.key.startswith("manual:")]
    hard = [c for c in failing if not c.cleanup_fixes and not c.key.startswith("manual:")]
    if hard:
        return state(
            STEP,
            StepStatus.BLOCKED,
            _("Some checks fail."),
            blockers=blockers,
            total=len(checks),
            done=len(checks) - len(failing),
        )
    if manual:
        return state(
            STEP,
            StepStatus.WAITING_PERSON,
            _("Confirm the manual checks."),
            blockers=blockers,
            waiting_for=_("you to confirm the checks no API can make"),
            total=len(checks),
            done=len(checks) - len(failing),
        )
    if failing:
        return state(
            STEP,
            StepStatus.PENDING,
            _("Ready for the irreversible cleanup; type the initial domain to confirm."),
            blockers=blockers,
            total=len(checks),
            done=len(checks) - len(failing),
            waiting_for=_("you to type the initial domain"),
        )
    return state(
        STEP,
        StepStatus.WAITING_PERSON,
        _("All checks pass. Delete the tenant in the Microsoft Entra admin center."),
        total=len(checks),
        done=len(checks),
        link=ctx.options.portal_links.get("entra"),
        waiting_for=_("you to select Delete in the Entra admin center"),
    )


def delete_tenant_handoff(ctx: StepContext, checks: list[Check]) -> Handoff:
    return Handoff(
        step=STEP,
        title=_("Delete the tenant"),
        link=ctx.options.portal_links.get("entra", ""),
        click_path=(
            _(
                "Sign in to the Microsoft Entra admin center as a Global Administrator of this tenant."
            ),
            _("Go to Identity > Overview > Manage tenants."),
            _("Select the tenant {domain} and select Delete.").format(
                domain=ctx.caller.tenant.initial_domain
            ),
            _("If a check fails, follow its link; when all checks pass, select Delete."),
        ),
        items=tuple(
            HandoffItem(c.key, c.label, _("pass") if c.ok else _("fail"), None, c.detail)
            for c in checks
        ),
        notes=(_("closeout watches until the tenant is gone."),),
    )


def cleanup(ctx: StepContext, inv: Inventory) -> list[str]:
    """Purge, delete, disable. Call only after the typed confirmation. Returns failures."""
    failures: list[str] = []
    planned_purge = set(ctx.plan.ids("purge-user"))
    purge = [
        _delete("purge-user", RECYCLE_BIN, str(d["id"]), str(d.get("userPrincipalName") or ""))
        for d in inv.deleted_users
        if str(d["id"]) in planned_purge
    ]
    failures += _failed(ctx.execute(STEP, purge))

    planned_apps = set(ctx.plan.ids("delete-application"))
    apps = [
        _delete("delete-application", "/applications", a.id, a.display_name)
        for a in inv.applications
        if a.id in planned_apps
    ]
    app_results = ctx.execute(STEP, apps)
    failures += _failed(app_results)
    # Deleted applications wait 30 days in the recycle bin: purge the ones this run deleted,
    # and the planned ones that were there already.
    purge_apps = [
        _delete("purge-application", RECYCLE_BIN, r.item.key, r.item.label)
        for r in app_results
        if r.outcome in (Outcome.done, Outcome.gone)
    ] + [
        _delete("purge-application", RECYCLE_BIN, str(d["id"]), str(d.get("displayName") or ""))
        for d in inv.deleted_applications
        if str(d["id"]) in planned_apps
    ]
    failures += _failed(ctx.execute(STEP, purge_apps))

    planned_sps = set(ctx.plan.ids("delete-service-principal"))
    pending = [
        _delete("delete-service-principal", "/servicePrincipals", sp.id, sp.display_name)
        for sp in inv.service_principals
        if sp.id in planned_sps
    ]
    # DELTEN: "some might fail on the first attempt due to dependencies": repeat a few rounds.
    for round_no in range(1, SP_DELETE_ROUNDS + 1):
        if not pending or ctx.control.stopped:
            break
        if round_no > 1:
            ctx.note(
                _("Retrying {n} service principals (round {round} of {rounds}).").format(
                    n=len(pending), round=round_no, rounds=SP_DELETE_ROUNDS
                ),
                step=STEP,
            )
        results = ctx.execute(STEP, pending)
        pending = [r.item for r in failed_results(results)]
    refusing = pending
    disable = [
        BatchItem(
            key=i.key,
            method="PATCH",
            url=f"/servicePrincipals/{i.key}",
            body={"accountEnabled": False},
            headers={"Content-Type": "application/json"},
            action="disable-service-principal",
            label=i.label,
        )
        for i in refusing
    ]
    if disable:
        ctx.note(
            _("{n} service principals refused deletion; disabling them instead.").format(
                n=len(disable)
            ),
            level="warning",
            step=STEP,
        )
    failures += _failed(ctx.execute(STEP, disable))
    return failures


RECYCLE_BIN = "/directory/deletedItems"


def _delete(action: str, collection: str, key: str, label: str) -> BatchItem:
    return BatchItem(
        key=key, method="DELETE", url=f"{collection}/{key}", action=action, label=label
    )


def _failed(results: list) -> list[str]:
    return [f"{r.item.label}: {r.code} {r.message}" for r in failed_results(results)]


def tenant_gone(authority_base: str, tenant_id: str, *, timeout: float = 10.0) -> bool | None:
    """True once the tenant's OpenID configuration answers AADSTS90002 'tenant not found'.

    A public, unauthenticated endpoint, so it still answers after tokens stop working. None
    when the answer says neither (network trouble, an unexpected status).
    """
    url = f"{authority_base.rstrip('/')}/{tenant_id}/v2.0/.well-known/openid-configuration"
    try:
        resp = requests.get(url, timeout=timeout)
    except requests.RequestException:
        return None
    if resp.status_code == 200:
        return False
    if resp.status_code in (400, 404) and "AADSTS90002" in resp.text:
        return True
    return None
