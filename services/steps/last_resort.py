"""The Entra article's "Remove enterprise apps that you can't delete", as step 5's last resort.

closeout leaves Microsoft's own service principals alone: deleting Microsoft Graph's can lock
every admin out, and KB2967860 says those that cannot be removed do not prevent deletion.
DELTEN says a few "might block you" and gives the remedy: delete every service principal,
repeat (dependencies), disable what still refuses, retry. closeout offers that only after the
admin says the portal refused "Delete tenant", behind a typed confirmation of its own.

The order keeps the branch closeout sits on: every other service principal first (deleted in
rounds, then the refusing ones disabled and tried once more), the recycle bin emptied of what
that sent there, then Microsoft Graph's own, and closeout's own last of all (with
``--delete-own-app``; otherwise it is the admin's, named in the handoff).
"""

from __future__ import annotations

from services import endpoints as E
from services.batch.items import Outcome
from services.i18n import _
from services.inventory.model import Inventory
from services.models import AppRow
from services.own_app import GRAPH_APP_ID

from .base import StepContext
from .directory import STEP
from .directory_cleanup import (
    CleanupResult,
    delete_in_rounds,
    delete_item,
    disable,
    failed,
)

ACTION = "remove-service-principal"
CONFIRM_WHAT = "remove-all-service-principals"


def targets(ctx: StepContext, inv: Inventory) -> tuple[list[AppRow], list[AppRow], list[AppRow]]:
    """(every other service principal, Microsoft Graph's, closeout's own), in that order."""
    own = ctx.own_app(inv)
    graph = [sp for sp in inv.service_principals if sp.app_id.lower() == GRAPH_APP_ID]
    rest = [
        sp
        for sp in inv.service_principals
        if sp.id not in own.object_ids and sp.app_id.lower() != GRAPH_APP_ID
    ]
    return rest, graph, list(own.service_principals)


def consequences(ctx: StepContext, inv: Inventory) -> list[str]:
    """What the typed confirmation allows, with the counts."""
    rest, graph, own = targets(ctx, inv)
    microsoft = sum(1 for sp in rest if sp.is_microsoft)
    lines = [
        _(
            "Delete, then disable what refuses, all {n:,} service principals, {m:,} of them "
            "Microsoft's own, and empty the recycle bin of them."
        ).format(n=len(rest), m=microsoft),
    ]
    if graph:
        lines.append(
            _(
                "Then Microsoft Graph's own service principal, after everything else: deleting it "
                "can lock every admin out of Microsoft Graph."
            )
        )
    names = ", ".join(sp.display_name for sp in own)
    if own and ctx.options.delete_own_app:
        lines.append(
            _("Last, closeout's own {name}: after that closeout can no longer sign in.").format(
                name=names
            )
        )
    elif own:
        lines.append(
            _(
                "closeout's own {name} stays: you delete it last, in the Entra admin center, "
                "just before the tenant."
            ).format(name=names)
        )
    lines.append(_("Only after the portal refused Delete tenant. This cannot be undone."))
    return lines


def run(ctx: StepContext, inv: Inventory) -> CleanupResult:
    result = CleanupResult()
    rest, graph, own = targets(ctx, inv)
    results, refusing = delete_in_rounds(ctx, rest, ACTION)
    if refusing and not ctx.control.stopped:
        # DELTEN: disable them "so they don't block tenant deletion, and then retry the removal".
        result.failures += failed(disable(ctx, refusing))
        retried, still = delete_in_rounds(ctx, _rows(refusing, rest), ACTION)
        results += retried
        if still:
            ctx.note(
                _("{n} service principals can't be deleted; they stay disabled.").format(
                    n=len(still)
                ),
                step=STEP,
            )
    result.failures += failed(_purge(ctx, results))
    if graph and not ctx.control.stopped:
        graph_results, graph_refusing = delete_in_rounds(ctx, graph, ACTION)
        result.failures += failed(disable(ctx, graph_refusing))
        result.failures += failed(_purge(ctx, graph_results))
    if own and ctx.options.delete_own_app and not ctx.control.stopped:
        ctx.note(
            _(
                "Deleting closeout's own {name} as the very last write: after this closeout can "
                "no longer sign in."
            ).format(name=", ".join(sp.display_name for sp in own)),
            level="warning",
            step=STEP,
        )
        done = ctx.execute(
            STEP,
            [
                delete_item("delete-own-app", E.SERVICE_PRINCIPAL_DELETE, sp.id, sp.display_name)
                for sp in own
            ],
        )
        result.failures += failed(done)
        result.own_app_deleted = tuple(
            (r.item.key, r.item.label) for r in done if r.outcome in (Outcome.done, Outcome.gone)
        )
    return result


def _rows(items: list, rows: list[AppRow]) -> list[AppRow]:
    keys = {i.key for i in items}
    return [r for r in rows if r.id in keys]


def _purge(ctx: StepContext, results: list) -> list:
    # Refusals answer 4xx and stay; what went answered 204 (or 404: gone with its app).
    items = [
        delete_item("purge-service-principal", E.DELETED_APP_PURGE, r.item.key, r.item.label)
        for r in results
        if r.outcome in (Outcome.done, Outcome.gone)
    ]
    return ctx.execute(STEP, items)
