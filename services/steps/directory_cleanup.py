"""Step 5's irreversible cleanup, run only after the typed initial domain.

Purge the deleted users, delete the applications and service principals the plan names
(disabling those that refuse), and empty the recycle bin of what that sent there: Graph
soft-deletes applications and service principals alike, for 30 days. closeout's own app is
never part of that. With ``--delete-own-app`` it goes as the very last write, and only once a
fresh read shows everything else in step 5 done; by default it is the admin's to delete, named
in the handoff.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from services import endpoints as E
from services.batch.items import BatchItem, ItemResult, Outcome
from services.endpoints import Endpoint
from services.i18n import _
from services.inventory.model import Inventory
from services.models import AppRow

from .base import StepContext, failed_results
from .directory import OWN_APP, STEP, readiness

SP_DELETE_ROUNDS = 3


@dataclass
class CleanupResult:
    failures: list[str] = field(default_factory=list)
    own_app_deleted: tuple[tuple[str, str], ...] = ()
    """(id, name) of closeout's own app when this run deleted it: nothing is sent after that."""


def cleanup(
    ctx: StepContext, inv: Inventory, reread: Callable[[], Inventory | None]
) -> CleanupResult:
    """Purge, delete, disable, purge; then, if asked and verified, closeout's own app."""
    result = CleanupResult()
    planned_purge = set(ctx.plan.ids("purge-user"))
    purge = [
        delete_item(
            "purge-user", E.DELETED_USER_PURGE, str(d["id"]), str(d.get("userPrincipalName") or "")
        )
        for d in inv.deleted_users
        if str(d["id"]) in planned_purge
    ]
    result.failures += failed(ctx.execute(STEP, purge))

    planned_apps = set(ctx.plan.ids("delete-application"))
    apps = [
        delete_item("delete-application", E.APPLICATION_DELETE, a.id, a.display_name)
        for a in inv.applications
        if a.id in planned_apps
    ]
    app_results = ctx.execute(STEP, apps)
    result.failures += failed(app_results)

    planned_sps = set(ctx.plan.ids("delete-service-principal"))
    sp_results, refusing = delete_in_rounds(
        ctx, [sp for sp in inv.service_principals if sp.id in planned_sps]
    )
    # One that an earlier run already turned off (its answer lost, or the run killed with the
    # PATCH in flight and settled by a read since) is not sent the same PATCH again.
    off = {sp.id for sp in inv.service_principals if not sp.enabled}
    result.failures += failed(disable(ctx, [i for i in refusing if i.key not in off]))

    # What this run deleted waits 30 days in the recycle bin, and so do the planned objects
    # that were there already: purge them. An application takes its service principal with it
    # (which then answers 404 to its own delete, "gone"); that one is in the bin too. So does
    # what an earlier run of this plan deleted before it stopped or was killed: the plan named
    # it for deletion, and it is in the bin now.
    planned_binned = (
        set(ctx.plan.ids("purge-application"))
        | set(ctx.plan.ids("purge-service-principal"))
        | planned_apps
        | planned_sps
    )
    purge_apps = _purge_items("purge-application", app_results) + [
        delete_item(
            "purge-application", E.DELETED_APP_PURGE, str(d["id"]), str(d.get("displayName") or "")
        )
        for d in inv.deleted_applications
        if str(d["id"]) in planned_binned
    ]
    purge_sps = _purge_items("purge-service-principal", sp_results) + [
        delete_item(
            "purge-service-principal",
            E.DELETED_APP_PURGE,
            str(d["id"]),
            str(d.get("displayName") or ""),
        )
        for d in inv.deleted_service_principals
        if str(d["id"]) in planned_binned
    ]
    result.failures += failed(ctx.execute(STEP, purge_apps + purge_sps))

    if ctx.options.delete_own_app and not result.failures and not ctx.control.stopped:
        result.own_app_deleted = delete_own_app_last(ctx, reread, result.failures)
    return result


def delete_in_rounds(
    ctx: StepContext, sps: list[AppRow], action: str = "delete-service-principal"
) -> tuple[list[ItemResult], list[BatchItem]]:
    """DELTEN: "some might fail on the first attempt due to dependencies": a few rounds.

    Returns every result and the items still refusing after the last round.
    """
    pending = [
        delete_item(action, E.SERVICE_PRINCIPAL_DELETE, sp.id, sp.display_name) for sp in sps
    ]
    results: list[ItemResult] = []
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
        batch = ctx.execute(STEP, pending)
        results += batch
        pending = [r.item for r in failed_results(batch)]
    return results, pending


def disable(ctx: StepContext, refusing: list[BatchItem]) -> list[ItemResult]:
    """Turn off what refused deletion, so that it does not block (DELTEN)."""
    items = [
        BatchItem.of(
            E.SERVICE_PRINCIPAL_DISABLE,
            i.key,
            body={"accountEnabled": False},
            action="disable-service-principal",
            label=i.label,
        )
        for i in refusing
    ]
    if items:
        ctx.note(
            _("{n} service principals refused deletion; disabling them instead.").format(
                n=len(items)
            ),
            level="warning",
            step=STEP,
        )
    return ctx.execute(STEP, items)


def delete_own_app_last(
    ctx: StepContext, reread: Callable[[], Inventory | None], failures: list[str]
) -> tuple[tuple[str, str], ...]:
    """closeout's own app, as the very last write, once a fresh read shows all else done.

    Said first: after it closeout can no longer sign in. Returns what was deleted.
    """
    fresh = reread()
    if fresh is None:
        return ()
    own = ctx.own_app(fresh)
    planned = set(ctx.plan.ids("delete-own-app"))
    targets = [o for o in own.blocking if o.id in planned]
    if not targets:
        return ()
    ticks = ctx.journal.manual_ticks() if ctx.journal is not None else set()
    left = [c for c in readiness(ctx, fresh, ticks) if not c.ok and c.key != OWN_APP]
    if left:
        ctx.note(
            _("closeout keeps its own app {name} for now: {checks} still to do.").format(
                name=own.names, checks="; ".join(c.label for c in left)
            ),
            step=STEP,
        )
        return ()
    ctx.note(
        _(
            "Everything else in step 5 is done. Deleting closeout's own app {name} as the very "
            "last write: after this closeout can no longer sign in. It keeps watching the "
            "tenant's public sign-in metadata until the tenant is gone."
        ).format(name=own.names),
        level="warning",
        step=STEP,
    )
    items = [
        delete_item(
            "delete-own-app",
            E.APPLICATION_DELETE if o.kind == "application" else E.SERVICE_PRINCIPAL_DELETE,
            o.id,
            o.display_name,
        )
        for o in targets
    ]
    results = ctx.execute(STEP, items)
    failures += failed(results)
    return tuple(
        (r.item.key, r.item.label) for r in results if r.outcome in (Outcome.done, Outcome.gone)
    )


def _purge_items(action: str, results: list[ItemResult]) -> list[BatchItem]:
    return [
        delete_item(action, E.DELETED_APP_PURGE, r.item.key, r.item.label)
        for r in results
        if r.outcome in (Outcome.done, Outcome.gone)
    ]


def delete_item(action: str, call: Endpoint, key: str, label: str) -> BatchItem:
    return BatchItem.of(call, key, action=action, label=label)


def failed(results: list[ItemResult]) -> list[str]:
    return [f"{r.item.label}: {r.code} {r.message}" for r in failed_results(results)]
