"""Step 5 — delete the directory: the portal's checks and what follows from them.

The readiness checks mirror the portal's (DELTEN, KB2967860): what Graph shows is checked from
a fresh read, what no API shows is ticked by the admin. From them the step's state, and the
handoff for the portal's part: what only a person can do (self-service sign-up products,
closeout's own app when it is the admin's to delete) and then "Delete tenant". A public probe
says when the tenant is gone, with no token at all (graph-api.md §6).

The irreversible cleanup is :mod:`.directory_cleanup`; the last-resort removal of every service
principal, :mod:`.last_resort`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum

import requests

from services.i18n import _, ngettext
from services.inventory.model import Inventory
from services.models import (
    AppRow,
    Handoff,
    HandoffItem,
    StepId,
    StepState,
    StepStatus,
    SubscriptionPhase,
)
from services.own_app import OwnApp
from services.self_service import split

from .base import StepContext, state
from .manual_checks import MANUAL_ITEMS

STEP = StepId.DELETE_DIRECTORY
DEPENDS_ON = (
    StepId.DELETE_USERS,
    StepId.CANCEL_SUBSCRIPTIONS,
    StepId.DELETE_SUBSCRIPTIONS,
    StepId.DISABLE_MFA,
)
"""The steps that must be done first (the registry's entry for step 5 says so too)."""


class Fix(StrEnum):
    """Who makes a failing check pass."""

    NOBODY_NOW = "blocker"  # earlier steps or time; nothing to do in step 5
    CLEANUP = "cleanup"  # closeout's cleanup, after the typed initial domain
    TICK = "manual"  # the admin checks it and ticks it
    HANDOFF = "handoff"  # the admin, in a portal, from the handoff's click path


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    ok: bool
    fix: Fix = Fix.NOBODY_NOW
    detail: str = ""
    items: tuple[HandoffItem, ...] = ()
    """What a handoff check asks the person to act on…"""
    click: tuple[str, ...] = ()
    """…and where (its lines of the handoff's click path)."""


OWN_APP = "own-app"
SELF_SERVICE = "self-service-products"


def readiness(ctx: StepContext, inv: Inventory, ticks: set[str]) -> list[Check]:
    """The portal's checks, as far as Graph shows them, plus the admin's ticked manual items.

    closeout's own app is a check of its own: it is left out of every other one, because it
    goes last (or is the admin's to delete), never with the other applications.
    """
    own = ctx.own_app(inv)
    ours = own.object_ids
    others = [u for u in inv.users if u.id not in ctx.kept_ids]
    kept_left = [u for u in inv.users if u.id in ctx.kept_ids]
    apps = [a for a in inv.applications if a.id not in ours]
    third_party = [
        sp
        for sp in inv.service_principals
        if not sp.is_microsoft and sp.enabled and sp.id not in ours
    ]
    binned_apps = [d for d in inv.deleted_applications if not own.holds(d)]
    binned_sps = [d for d in inv.deleted_service_principals if not own.holds(d)]
    bought, self_service = split(inv.subscriptions)
    subs_left = [s for s in bought if s.phase != SubscriptionPhase.DELETED]
    viral = [s for s in self_service if s.phase != SubscriptionPhase.DELETED]
    extra = len(others) + max(0, len(kept_left) - 1)
    checks = [
        Check(
            "users",
            _("Only one Global Administrator remains"),
            not others and len(kept_left) <= 1,
            detail=ngettext("{n} other user remains", "{n} other users remain", extra).format(
                n=extra
            ),
        ),
        Check(
            "recycle-bin",
            _("The recycle bin is empty of users, applications and service principals"),
            not inv.deleted_users and not binned_apps and not binned_sps,
            Fix.CLEANUP,
            ", ".join(
                (
                    ngettext("{n} user", "{n} users", len(inv.deleted_users)).format(
                        n=len(inv.deleted_users)
                    ),
                    ngettext("{n} application", "{n} applications", len(binned_apps)).format(
                        n=len(binned_apps)
                    ),
                    ngettext(
                        "{n} service principal", "{n} service principals", len(binned_sps)
                    ).format(n=len(binned_sps)),
                )
            ),
        ),
        Check(
            "applications",
            _("No applications"),
            not apps,
            Fix.CLEANUP,
            ngettext("{n} application", "{n} applications", len(apps)).format(n=len(apps)),
        ),
        Check(
            "service-principals",
            _("No non-Microsoft service principals"),
            not third_party,
            Fix.CLEANUP,
            ngettext(
                "{n} enterprise application", "{n} enterprise applications", len(third_party)
            ).format(n=len(third_party)),
        ),
        Check(
            "subscriptions",
            _("Every subscription is deprovisioned"),
            not subs_left,
            detail=ngettext(
                "{n} subscription not yet deleted",
                "{n} subscriptions not yet deleted",
                len(subs_left),
            ).format(n=len(subs_left)),
        ),
        Check(
            SELF_SERVICE,
            # What Graph's subscription list shows; the manual "self-service" item is the
            # admin's word for the Entra page, which also lists products closeout cannot
            # recognise (services/self_service.py): two facts, named apart.
            _("Graph's subscription list holds no self-service sign-up product"),
            not viral,
            Fix.HANDOFF,
            ", ".join(s.product.label for s in viral),
            tuple(
                HandoffItem(
                    s.id,
                    s.product.label,
                    _("to delete"),
                    None,
                    _("Self-service sign-up product: delete it in the Entra admin center."),
                )
                for s in viral
            ),
            (
                _("Go to Identity > Billing > Licenses > Self-service sign-up products."),
                _(
                    "Select each self-service product listed below, then Delete, then Yes: the "
                    "deletion is immediate and cannot be undone."
                ),
            ),
        ),
    ]
    checks = [_trusted(check, inv.errors) for check in checks]
    if own.blocking:
        checks.append(_own_app_check(ctx, own))
    for key, (label, where) in MANUAL_ITEMS.items():
        checks.append(Check(f"manual:{key}", _(label), key in ticks, Fix.TICK, _(where)))
    return checks


CHECK_READS: dict[str, tuple[str, ...]] = {
    "recycle-bin": ("deleted", "deletedApps", "deletedServicePrincipals"),
    "applications": ("apps",),
    "service-principals": ("servicePrincipals",),
    "subscriptions": ("subscriptions",),
    SELF_SERVICE: ("subscriptions",),
}
"""The inventory parts each check rests on: an empty list closeout could not read passes none."""


def _trusted(check: Check, errors: Mapping[str, str]) -> Check:
    unread = [errors[part] for part in CHECK_READS.get(check.key, ()) if part in errors]
    if not unread:
        return check
    reason = "; ".join(dict.fromkeys(unread))
    detail = _("unknown: closeout could not read it ({reason})").format(reason=reason)
    return replace(check, ok=False, fix=Fix.NOBODY_NOW, detail=detail, items=(), click=())


def _own_app_check(ctx: StepContext, own: OwnApp) -> Check:
    if ctx.options.delete_own_app:
        detail = _(
            "closeout deletes it as its very last write, once everything else is done; after "
            "that closeout can no longer sign in"
        )
        state_word = _("deleted last by closeout")
    else:
        detail = _(
            "closeout signs in with it: you delete it in the Entra admin center, last, just "
            "before the tenant"
        )
        state_word = _("delete last")
    return Check(
        OWN_APP,
        _("closeout's own app {name} is gone").format(name=own.names),
        False,
        Fix.CLEANUP if ctx.options.delete_own_app else Fix.HANDOFF,
        detail,
        tuple(HandoffItem(o.id, o.display_name, state_word, None, detail) for o in own.blocking),
        tuple(_own_app_click(o) for o in own.blocking),
    )


def _own_app_click(row: AppRow) -> str:
    if row.kind == "application":
        return _(
            "Last, delete closeout's own app registration {name}: Identity > Applications > App "
            "registrations > All applications > {name} > Delete; then Deleted applications > "
            "{name} > Delete permanently. After this closeout can no longer sign in."
        ).format(name=row.display_name)
    return _(
        "Last, delete closeout's own enterprise application {name}: Identity > Applications > "
        "Enterprise applications > All applications > {name} > Properties > Delete. After this "
        "closeout can no longer sign in."
    ).format(name=row.display_name)


def check_line(c: Check) -> str:
    """``label: detail`` for a failing check; a label written as a sentence ("All outstanding
    invoices are paid.") loses its full stop before the colon."""
    label = c.label.rstrip().removesuffix(".")
    return f"{label}: {c.detail}" if c.detail else label


def earlier_steps_left(earlier: Mapping[StepId, StepState]) -> list[StepId]:
    return [s for s in DEPENDS_ON if earlier.get(s) is None or earlier[s].status != StepStatus.DONE]


def assess(
    ctx: StepContext,
    inv: Inventory,
    ticks: set[str],
    earlier: Mapping[StepId, StepState],
    *,
    gone: bool = False,
) -> StepState:
    """Where step 5 stands. In order: earlier steps and checks only time fixes (blocked), the
    manual ticks, the cleanup, what a person does in a portal, closeout's own app (last of
    all), then "Delete tenant"."""
    if gone:
        return state(STEP, StepStatus.DONE, _("The tenant is deleted."), done=1, total=1)
    not_done = earlier_steps_left(earlier)
    checks = readiness(ctx, inv, ticks)
    failing = [c for c in checks if not c.ok]
    counts = {
        "blockers": tuple(check_line(c) for c in failing),
        "total": len(checks),
        "done": len(checks) - len(failing),
    }
    if not_done:
        return state(
            STEP,
            StepStatus.BLOCKED,
            ngettext("Waits for step {steps}.", "Waits for steps {steps}.", len(not_done)).format(
                steps=", ".join(str(int(s)) for s in not_done)
            ),
            **counts,
        )
    if any(c.fix == Fix.NOBODY_NOW for c in failing):
        return state(STEP, StepStatus.BLOCKED, _("Some checks fail."), **counts)
    if any(c.fix == Fix.TICK for c in failing):
        return state(
            STEP,
            StepStatus.WAITING_PERSON,
            _("Confirm the manual checks."),
            waiting_for=_("you to confirm the checks no API can make"),
            **counts,
        )
    own = next((c for c in failing if c.key == OWN_APP), None)
    rest = [c for c in failing if c is not own]
    if any(c.fix == Fix.CLEANUP for c in rest):
        return state(
            STEP,
            StepStatus.PENDING,
            _("Ready for the irreversible cleanup, once you confirm it with the initial domain."),
            waiting_for=_("you to confirm with the initial domain"),
            **counts,
        )
    link = ctx.options.portal_links.get("entra")
    if rest:
        return state(
            STEP,
            StepStatus.WAITING_PERSON,
            _("Delete what the handoff lists in the Microsoft Entra admin center."),
            link=link,
            waiting_for=_("you to delete them in the Entra admin center"),
            **counts,
        )
    if own is not None and own.fix == Fix.CLEANUP:
        return state(
            STEP,
            StepStatus.PENDING,
            _(
                "Everything else is done: closeout deletes its own app as its very last write, "
                "once you confirm it with the initial domain. After that closeout can no longer "
                "sign in."
            ),
            waiting_for=_("you to confirm with the initial domain"),
            **counts,
        )
    if own is not None:
        return state(
            STEP,
            StepStatus.WAITING_PERSON,
            _(
                "All other checks pass. Delete closeout's own app last, then the tenant, in the "
                "Microsoft Entra admin center."
            ),
            link=link,
            waiting_for=_("you to delete closeout's app, then the tenant"),
            **counts,
        )
    return state(
        STEP,
        StepStatus.WAITING_PERSON,
        _("All checks pass. Delete the tenant in the Microsoft Entra admin center."),
        total=len(checks),
        done=len(checks),
        link=link,
        waiting_for=_("you to select Delete in the Entra admin center"),
    )


def final_stage(checks: list[Check]) -> bool:
    """Only what a person does in a portal is left: the handoff is the whole of the step."""
    return all(c.ok or c.fix == Fix.HANDOFF for c in checks)


def delete_tenant_handoff(
    ctx: StepContext,
    checks: list[Check],
    *,
    own_app_deleted: tuple[tuple[str, str], ...] = (),
) -> Handoff:
    """The portal's part: what only a person can do, in order, then "Delete tenant".

    ``own_app_deleted``: (id, name) of closeout's own app when closeout itself deleted it as
    its last write; it waits in the recycle bin, which closeout can no longer empty.
    """
    click: list[str] = [
        _("Sign in to the Microsoft Entra admin center as a Global Administrator of this tenant.")
    ]
    items: list[HandoffItem] = []
    notes: list[str] = []
    for c in checks:
        if c.ok or c.fix != Fix.HANDOFF:
            continue
        items += c.items
        click += c.click
        if c.key == OWN_APP:
            notes.append(
                _(
                    "After closeout's own app is deleted closeout can no longer sign in; it keeps "
                    "watching the tenant's public sign-in metadata, which needs no sign-in."
                )
            )
    for object_id, name in own_app_deleted:
        click.append(
            _(
                "closeout deleted its own app registration {name} as its last write. It waits in "
                "Identity > Applications > App registrations > Deleted applications: select it "
                "and Delete permanently."
            ).format(name=name)
        )
        items.append(HandoffItem(object_id, name, _("deleted by closeout"), None, ""))
    click += [
        _("Go to Identity > Overview > Manage tenants."),
        _("Select the tenant {domain} and select Delete.").format(
            domain=ctx.caller.tenant.initial_domain
        ),
        _("If a check fails, follow its link; when all checks pass, select Delete."),
    ]
    items += [HandoffItem(c.key, c.label, check_word(c), None, c.detail) for c in checks]
    notes.append(_("closeout watches until the tenant is gone."))
    return Handoff(
        step=STEP,
        title=_("Delete the tenant"),
        link=ctx.options.portal_links.get("entra", ""),
        click_path=tuple(click),
        items=tuple(items),
        notes=tuple(notes),
    )


def check_word(check: Check) -> str:
    """A check's word in the handoff list: what Graph shows passes or fails; a manual check is
    the admin's tick, never a "pass" Graph could contradict."""
    if check.fix == Fix.TICK:
        return _("ticked") if check.ok else _("not ticked")
    return _("pass") if check.ok else _("fail")


def watching_without_sign_in(ctx: StepContext) -> StepState:
    """Step 5 once closeout's sign-in stopped working at the portal stage."""
    return state(
        STEP,
        StepStatus.WAITING_PERSON,
        _(
            "closeout can no longer sign in to this tenant, as expected once its own app or the "
            "tenant is deleted. It watches the tenant's public sign-in metadata until the tenant "
            "is gone."
        ),
        link=ctx.options.portal_links.get("entra"),
        waiting_for=_("you to select Delete in the Entra admin center"),
    )


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
