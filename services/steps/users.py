"""Step 1 — delete users: directory sync off first, wait until no user is synced, then delete
every user except the accounts to keep, in ``$batch``es (graph-api.md §2).

Done means a fresh read lists only the kept accounts and no synced user.
"""

from __future__ import annotations

from datetime import datetime

from services.batch import BatchItem
from services.i18n import _
from services.inventory import read_users
from services.models import StepId, StepState, StepStatus, UserRow

from .base import StepContext, failed_results, horizon, state

STEP = StepId.DELETE_USERS
SYNC_HORIZON_HOURS = 72


def sync_off_time(ctx: StepContext) -> datetime | None:
    """When closeout turned sync off (from the journal), for the 72-hour horizon."""
    if ctx.journal is None:
        return None
    return ctx.journal.last_success("disable-directory-sync")


def assess(ctx: StepContext, users: list[UserRow], sync_enabled: bool | None) -> StepState:
    planned = set(ctx.plan.user_delete_ids())
    remaining = [u for u in users if u.id not in ctx.kept_ids]
    synced = [u for u in users if u.synced]
    new = [u for u in remaining if u.id not in planned]
    total = len(planned)
    done = total - sum(1 for u in remaining if u.id in planned)
    if not remaining and not synced:
        return state(
            STEP, StepStatus.DONE, _("Only the kept accounts remain."), done=done, total=total
        )
    blockers = tuple(
        _("{upn} appeared after the plan was made; re-plan to include it.").format(upn=u.upn)
        for u in new
    )
    if synced and not sync_enabled:
        until = horizon(sync_off_time(ctx), SYNC_HORIZON_HOURS)
        return state(
            STEP,
            StepStatus.WAITING_TIME,
            _("Directory sync is turning off; {n} users are still synchronized.").format(
                n=len(synced)
            ),
            done=done,
            total=total,
            waiting_for=_("directory synchronization to turn off (up to 72 hours)"),
            waiting_until=until,
            blockers=blockers,
        )
    if new and len(new) == len(remaining):
        return state(
            STEP,
            StepStatus.BLOCKED,
            _("Users appeared after planning."),
            done=done,
            total=total,
            blockers=blockers,
        )
    summary = (
        _("{n} users are synchronized: directory sync must be turned off first.").format(
            n=len(synced)
        )
        if synced
        else _("{n} users to delete.").format(n=len(remaining) - len(new))
    )
    return state(STEP, StepStatus.PENDING, summary, done=done, total=total, blockers=blockers)


def read_state(ctx: StepContext) -> tuple[list[UserRow], bool | None]:
    org = ctx.client.get("/organization", params={"$select": "id,onPremisesSyncEnabled"}).get(
        "value", [{}]
    )[0]
    users = read_users(ctx.client)
    return users, org.get("onPremisesSyncEnabled")


def turn_sync_off(ctx: StepContext) -> None:
    ctx.require_writable(_("turning directory synchronization off"))
    org_id = ctx.caller.tenant.id
    item = BatchItem(
        key=org_id,
        method="PATCH",
        url=f"/organization/{org_id}",
        body={"onPremisesSyncEnabled": False},
        headers={"Content-Type": "application/json"},
        action="disable-directory-sync",
        label=ctx.caller.tenant.display_name,
    )
    results = ctx.execute(STEP, [item])
    if failed_results(results):
        r = results[0]
        ctx.note(
            _("Turning directory sync off failed: {code} {message}").format(
                code=r.code, message=r.message
            ),
            level="error",
            step=STEP,
        )
    else:
        ctx.note(
            _("Directory synchronization turned off; Microsoft says this can take up to 72 hours."),
            step=STEP,
        )


def run(ctx: StepContext) -> StepState:
    """Do what step 1 can do now; return its state from a fresh read afterwards."""
    users, sync_enabled = read_state(ctx)
    synced = [u for u in users if u.synced]
    if synced:
        if sync_enabled:
            turn_sync_off(ctx)
            users, sync_enabled = read_state(ctx)
        return assess(ctx, users, sync_enabled)
    planned = set(ctx.plan.user_delete_ids())
    existing = {u.id: u for u in users}
    order = [uid for uid in ctx.plan.user_delete_ids() if uid in existing]
    items = [
        BatchItem(
            key=uid,
            method="DELETE",
            url=f"/users/{uid}",
            action="delete-user",
            label=existing[uid].upn,
        )
        for uid in order
        if uid not in ctx.kept_ids and uid in planned
    ]
    results = ctx.execute(STEP, items)
    failed = {r.item.key for r in failed_results(results)}
    # Graph lists with replication delay: re-read until what we deleted is gone from the list.
    for _attempt in range(max(1, ctx.options.verify_attempts)):
        users, sync_enabled = read_state(ctx)
        lingering = [
            u for u in users if u.id in planned and u.id not in failed and u.id not in ctx.kept_ids
        ]
        if (
            not lingering
            or ctx.control.stopped
            or not any(r.outcome in ("done", "gone") for r in results)
        ):
            break
        if ctx.control.wait(ctx.options.verify_delay):
            break
    result = assess(ctx, users, sync_enabled)
    if failed and result.status != StepStatus.DONE:
        result = StepState(
            STEP,
            StepStatus.FAILED,
            _("{n} users could not be deleted.").format(n=len(failed)),
            done=result.done,
            total=result.total,
            failed=len(failed),
            blockers=tuple(f"{r.item.label}: {r.code} {r.message}" for r in failed_results(results))
            + result.blockers,
        )
    return result
