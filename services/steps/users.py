"""Step 1 — delete users: turn directory sync off (once: :mod:`.dirsync`), then delete every
user except the accounts to keep, in ``$batch``es (graph-api.md §2).

Cloud-only users need not wait for sync: a run deletes every planned user that is not
synchronized now, while sync is turning off, and the formerly synced ones once Graph shows them
converted; the plan's delete set stays one set. Done means a fresh read lists only the kept
accounts and no synced user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services import endpoints
from services.batch.items import BatchItem, Outcome
from services.caller import read_organization
from services.data_owners import owners_named
from services.errors import AuthError, GraphError
from services.graph.client import GraphClient
from services.i18n import N_, _, ngettext
from services.inventory.reads import read_users
from services.journal.records import format_time
from services.models import GLOBAL_ADMIN, StepId, StepState, StepStatus, UserRow
from services.requirements import StepNeeds, Uses

from . import dirsync
from .base import StepContext, failed_results, state
from .step import Asking, Assessing, Assessment, Confirmation, Host, Ran, Step

STEP = StepId.DELETE_USERS


@dataclass(frozen=True)
class SyncRead:
    """What Graph read of directory sync: the users and the organization's flag, and when."""

    users: list[UserRow]
    org_flag: bool | None
    at: datetime
    """Graph's clock before the read began: what it shows held at this instant or later."""


@dataclass(frozen=True)
class SyncView:
    """What step 1 makes of directory sync right now."""

    synced: int
    """Users Graph reads as synchronized."""
    turn_off: dirsync.TurnOff | None
    """The PATCH the journal records, if any."""
    waiting_until: datetime | None
    """While users are converted: the end of the 72 hours, then of the grace after them."""
    back_on: bool
    """Users still synchronized in a read begun after the window and its grace."""
    flag_on: bool
    """No user synchronized, but the organization reads sync on in a read begun after them."""
    unsettled: bool
    """The grace is over, but the read that shows sync on began before its end: Graph may
    have converted the users since (a listing of 100,000 users takes minutes). Read again."""
    due: bool
    """This run sends the PATCH."""


def sync_view(ctx: StepContext, read: SyncRead) -> SyncView:
    synced = sum(1 for u in read.users if u.synced)
    now = ctx.server_now()
    off = dirsync.last_turn_off(ctx.journal, now, in_flight=synced > 0)
    overdue = off is not None and off.overdue(now)
    # Only what a read begun after the grace shows counts against sync: "up to 72 hours" is
    # Microsoft's estimate, and users converted at the 72nd hour must never read "on again".
    proven = off is not None and off.overdue(read.at)
    sync_on = synced > 0 or read.org_flag is True
    back_on = proven and synced > 0
    # Until then a journalled PATCH is never sent again, whatever Graph reads. After it, only a
    # plan made since (the admin's answer to "sync is on again") sends it again; before any
    # PATCH, synced users and a flag not already off do.
    replanned = off is not None and ctx.plan.created_at >= off.overdue_at
    due = synced > 0 and ((off is None and read.org_flag is not False) or (back_on and replanned))
    until = None
    if off is not None and not proven:
        until = off.until if off.window_open(now) else off.overdue_at
    return SyncView(
        synced,
        off,
        until,
        back_on and not replanned,
        proven and not synced and read.org_flag is True,
        overdue and not proven and sync_on,
        due,
    )


def observe(ctx: StepContext, read: SyncRead) -> tuple[SyncRead, SyncView]:
    """``read`` and what it means; read again first when it is too old to tell whether sync is
    on again, so that closeout says so only from a read begun after the grace."""
    view = sync_view(ctx, read)
    if view.unsettled:
        read = read_state(ctx, fresh=True)
        view = sync_view(ctx, read)
    return read, view


def turning_off_summary(synced: int, *, sent: bool) -> str:
    """Step 1's line while sync turns off: closeout ``sent`` the PATCH, or someone else did."""
    if sent:
        text = ngettext(
            "Directory sync is turning off; {n} user is still synchronized.",
            "Directory sync is turning off; {n} users are still synchronized.",
            synced,
        )
    else:
        text = ngettext(
            "Directory sync was turned off outside closeout; {n} user is still synchronized.",
            "Directory sync was turned off outside closeout; {n} users are still synchronized.",
            synced,
        )
    return text.format(n=synced)


def assess(ctx: StepContext, read: SyncRead, sync: SyncView) -> StepState:
    """Step 1's state from ``read`` and what :func:`observe` made of it."""
    planned = set(ctx.plan.user_delete_ids())
    kept = ctx.kept_ids  # a frozenset made anew by each call: once, not once per user
    remaining = [u for u in read.users if u.id not in kept]
    new = [u for u in remaining if u.id not in planned]
    deletable = [u for u in remaining if u.id in planned and not u.synced]
    total = len(planned)
    done = total - sum(1 for u in remaining if u.id in planned)
    blockers = tuple(
        _("{upn} appeared after the plan was made; re-plan to include it.").format(upn=u.upn)
        for u in new
    )
    if sync.flag_on:
        assert sync.turn_off is not None
        blockers += (dirsync.flag_back_on_text(sync.turn_off),)
    if read.org_flag is None and ctx.caller.sync_unknown:
        blockers += (dirsync.unknown_text(),)
    if sync.back_on:
        assert sync.turn_off is not None
        return state(
            STEP,
            StepStatus.BLOCKED,
            dirsync.back_on_summary(sync.turn_off, sync.synced),
            done=done,
            total=total,
            blockers=(dirsync.back_on_text(sync.turn_off, sync.synced), *blockers),
        )
    if not remaining and not sync.synced:
        return state(
            STEP,
            StepStatus.DONE,
            _("Only the kept accounts remain."),
            done=done,
            total=total,
            blockers=blockers,
        )
    if sync.synced and not sync.due:
        # Turning off is under way: closeout sent it (the journal says so), or it reads off.
        summary = turning_off_summary(sync.synced, sent=sync.turn_off is not None)
        if sync.turn_off is not None and sync.waiting_until == sync.turn_off.overdue_at:
            summary += " " + _(
                "Microsoft's 72 hours are over: a few more hours before closeout concludes that "
                "sync was turned back on."
            )
        if sync.turn_off is not None and not sync.turn_off.confirmed:
            summary += " " + _(
                "closeout stopped while sending the request to turn it off, so it counts as sent."
            )
        if deletable:
            summary += " " + ngettext(
                "{n} user who is not synchronized can be deleted now.",
                "{n} users who are not synchronized can be deleted now.",
                len(deletable),
            ).format(n=len(deletable))
        return state(
            STEP,
            StepStatus.PENDING if deletable else StepStatus.WAITING_TIME,
            summary,
            done=done,
            total=total,
            waiting_for=_("directory synchronization to turn off (up to 72 hours)"),
            waiting_until=sync.waiting_until,
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
        ngettext(
            "{n} user is synchronized: directory sync must be turned off first.",
            "{n} users are synchronized: directory sync must be turned off first.",
            sync.synced,
        ).format(n=sync.synced)
        if sync.due
        else ngettext(
            "{n} user to delete.", "{n} users to delete.", len(remaining) - len(new)
        ).format(n=len(remaining) - len(new))
    )
    return state(STEP, StepStatus.PENDING, summary, done=done, total=total, blockers=blockers)


def org_sync(client: GraphClient) -> bool | None:
    """Whether the organization synchronizes from on-premises AD, from a fresh read."""
    return read_organization(client).get("onPremisesSyncEnabled")


def read_state(ctx: StepContext, *, fresh: bool = False) -> SyncRead:
    """The users and the organization's sync flag, from Graph. The users of an inventory read
    moments ago, with no write since, are that read (a listing of 100,000 users is 101
    requests) unless ``fresh``; after any write they are read again."""
    at = ctx.server_now()
    org_flag = org_sync(ctx.client)
    recent = None if fresh else ctx.fresh_inventory()
    if recent is not None:
        return SyncRead(recent.users, org_flag, min(at, recent.began_at or recent.taken_at))
    # The rows of the inventory for every user that reads the same: the step holds one row
    # per user, not a second 100,000 beside the inventory's.
    return SyncRead(read_users(ctx.client, known=ctx.inventory.users), org_flag, at)


def turn_sync_off(ctx: StepContext) -> StepState | None:
    """Send the PATCH (journalled like every write); a failure comes back as a failed state."""
    ctx.require_writable(_("turning directory synchronization off"))
    org_id = ctx.caller.tenant.id
    item = BatchItem.of(
        endpoints.ORGANIZATION_UPDATE,
        org_id,
        body={"onPremisesSyncEnabled": False},
        action=dirsync.ACTION,
        label=ctx.caller.tenant.display_name,
    )
    results = ctx.execute(STEP, [item])
    if results and results[0].outcome == Outcome.unknown:
        # Sent, its answer lost, and no read could confirm it (Graph's flag may lag): the
        # journal counts it as sent, so it is never sent again; the step waits as for one sent.
        ctx.note(
            _(
                "Turning directory sync off was sent, but its answer was lost; closeout counts "
                "it as sent and does not send it again."
            ),
            level="warning",
            step=STEP,
        )
        return None
    if not results or failed_results(results) or not results[0].ok:
        r = results[0] if results else None
        text = _("Turning directory sync off failed: {code} {message}").format(
            code=r.code if r else "", message=r.message if r else _("not sent")
        )
        ctx.note(text, level="error", step=STEP)
        return state(STEP, StepStatus.FAILED, text, failed=1, blockers=(text,))
    # Graph's clock at this moment goes with it: the 72 hours are Graph's (a sandbox may run
    # them fast), and every later run measures the window from here.
    ctx.note(
        _("Directory synchronization turned off; Microsoft says this can take up to 72 hours."),
        step=STEP,
        action=dirsync.ACTION,
        graph_time=format_time(ctx.server_now()),
    )
    return None


def delete_items(ctx: StepContext, users: list[UserRow]) -> list[BatchItem]:
    """The deletes to send, in the plan's order: everyone planned who is not synchronized now
    (cloud-only users at once, formerly synced ones as soon as Graph shows them converted;
    synced ones would be refused). The lookup by id lives only while they are built."""
    kept = ctx.kept_ids
    upns = {u.id: u.upn for u in users if not u.synced and u.id not in kept}
    return [
        BatchItem.of(endpoints.USER_DELETE, uid, action="delete-user", label=upns[uid])
        for uid in ctx.plan.user_delete_ids()
        if uid in upns
    ]


def run(ctx: StepContext) -> StepState:
    """Do what step 1 can do now; return its state from a fresh read afterwards."""
    read, sync = observe(ctx, read_state(ctx))
    if sync.due:
        refused = turn_sync_off(ctx)
        if refused is not None:
            return refused
        read, sync = observe(ctx, read_state(ctx))
    if sync.back_on:
        return assess(ctx, read, sync)
    results = ctx.execute(STEP, delete_items(ctx, read.users))
    # What the rest needs of 100,000 results: their ids (the plan's own strings) and the few
    # failures; the results themselves (and their requests) are let go now.
    sent = [r.item.key for r in results]
    failures = failed_results(results)
    failed = {r.item.key for r in failures}
    acted = any(r.outcome in ("done", "gone") for r in results)
    del results
    # Graph lists with replication delay: re-read until what we deleted is gone from the list.
    for _attempt in range(max(1, ctx.options.verify_attempts)):
        read = read_state(ctx)
        listed = {u.id for u in read.users}
        lingering = [uid for uid in sent if uid in listed and uid not in failed]
        if not lingering or ctx.control.stopped or not acted:
            break
        if ctx.control.wait(ctx.options.verify_delay):
            break
    result = assess(ctx, *observe(ctx, read))
    if failed and result.status != StepStatus.DONE:
        result = StepState(
            STEP,
            StepStatus.FAILED,
            ngettext(
                "{n} user could not be deleted.", "{n} users could not be deleted.", len(failed)
            ).format(n=len(failed)),
            done=result.done,
            total=result.total,
            failed=len(failed),
            blockers=tuple(f"{r.item.label}: {r.code} {r.message}" for r in failures)
            + result.blockers,
        )
    return result


def _assess(a: Assessing) -> Assessment:
    ctx, inv = a.ctx, a.inventory
    at = min(ctx.server_now(), inv.began_at or inv.taken_at)
    # The organization's flag is read afresh while a user is synced or the tenant was synced
    # when closeout signed in: the flag read then may be days old, and sync off since.
    if inv.synced_users:
        org_flag = org_sync(ctx.client)
    elif ctx.caller.sync_enabled:
        org_flag = _flag_if_readable(ctx)
    else:
        org_flag = ctx.caller.sync_enabled
    read, sync = observe(ctx, SyncRead(inv.users, org_flag, at))
    return Assessment(
        assess(ctx, read, sync),
        due=frozenset({dirsync.ACTION}) if sync.due else frozenset(),
    )


def _flag_if_readable(ctx: StepContext) -> bool | None:
    """With no user synced the flag only tells whether a sync server turned sync back on. A
    refused read says nothing about that (the tenant may be deleted since the inventory was
    read, which the next read of it settles): unknown, then."""
    try:
        return org_sync(ctx.client)
    except (GraphError, AuthError):
        return None


def _run(ctx: StepContext, host: Host) -> Ran:
    return Ran(state=run(ctx))


def confirmation(ask: Asking) -> Confirmation:
    """The count and the consequence; first, once, that sync is turned off, when it is due."""
    plan, st, inventory = ask.plan, ask.state, ask.inventory
    sync_off = dirsync.ACTION in ask.due
    question = ""
    if plan is not None:
        question = _("Delete {n:,} users? They can be restored for 30 days.").format(
            n=len(plan.user_delete_ids())
        )
        if sync_off:
            sync = _(
                "Directory synchronization is turned off first, once: it takes up to 72 hours "
                "and cannot be undone meanwhile. Users who are not synchronized are deleted "
                "meanwhile, the others once they are converted."
            )
            question = f"{sync} {question} {dirsync.connect_advice()}"
    remaining = max(st.total - st.done, 0)
    if sync_off and inventory is not None:
        synced = len(inventory.synced_users)
        return Confirmation(
            question,
            _("Turn directory synchronization off?"),
            (
                _(
                    "{synced:,} users are synchronized from on-premises AD. Turning sync off "
                    "takes up to 72 hours and cannot be undone during that time; closeout sends "
                    "it once. The {now:,} users who are not synchronized are deleted now, the "
                    "others once they are converted. They can be restored for 30 days."
                ).format(synced=synced, now=max(remaining - synced, 0))
                + "\n\n"
                + dirsync.connect_advice(),
            ),
            _("Continue"),
        )
    owners = (
        owners_named(inventory, plan.user_delete_ids())
        if inventory is not None and plan is not None
        else None
    )
    if owners is not None:
        question = f"{question} {owners}"
    return Confirmation(
        question,
        ngettext("Delete {n:,} user?", "Delete {n:,} users?", remaining).format(n=remaining),
        (
            _(
                "{n:,} users will be deleted, guests and other admins included; you are kept. "
                "They can be restored for 30 days."
            ).format(n=remaining),
            *((owners,) if owners is not None else ()),
        ),
        _("Delete"),
    )


NEEDS = StepNeeds(
    roles=(GLOBAL_ADMIN,),
    uses=(
        Uses(
            endpoints.USER_DELETE,
            N_("delete users"),
            admins=N_("delete users who hold admin roles"),
        ),
        Uses(
            endpoints.ORGANIZATION_UPDATE,
            N_("turn directory synchronization off"),
            when="sync-on",
        ),
    ),
)

DELETE_USERS = Step(
    id=STEP,
    name=N_("Delete users"),
    short_name=N_("Users"),
    help=N_(
        "If users are synchronized from on-premises AD, turns directory sync off, once (stop Entra Connect first). "
        "Deletes every user except you, in batches of 20: cloud-only ones at once, synchronized ones once they are "
        "converted (up to 72 hours). They can be restored for 30 days."
    ),
    assess=_assess,
    requires=NEEDS,
    run=_run,
    run_label=N_("delete users"),
    confirm=confirmation,
    counts=frozenset({"delete-user"}),
)
