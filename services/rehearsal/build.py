"""Building the rehearsal report from what the rehearsal saw (:mod:`.observe`), what the
admin's stand-in met (:mod:`.admin`), the plan, the inventory read at the start and the
forecast (:mod:`.forecast`): per step, the waits, the timeline, the handoffs and the
findings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from services.exit_codes import ExitCode
from services.i18n import N_, _, ngettext
from services.inventory.model import Inventory
from services.models import StepId, SubscriptionPhase
from services.names import status_word, step_name
from services.own_app import find_own_app, own_app_ids
from services.plan.labels import action_label, subscription_label
from services.plan.model import Plan
from services.self_service import is_self_service, split
from services.snapshot.fileformat import Snapshot
from services.steps.manual_checks import MANUAL_ITEMS
from services.steps.mfa import warnings as mfa_warnings
from services.steps.subscriptions import CANCELLING

from .admin import RehearsalAdmin
from .forecast import (
    DEPROVISION_SECONDS,
    SYNC_OFF_SECONDS,
    Pace,
    step_seconds,
    write_floor,
)
from .observe import Observer
from .parts import BLOCKER, WARNING, Finding, HandoffReport, StepReport, Timeline
from .report import RehearsalReport

# What happened to an item, in words; and the actions the plan has no words for (step 5's
# cleanup finds them as it goes).
OUTCOME_WORDS = {
    "done": N_("done"),
    "gone": N_("already gone"),
    "failed": N_("failed"),
    "skipped": N_("not done (stopped)"),
}
EXTRA_LABELS = {
    "purge-application": N_("Permanently delete deleted applications"),
    "disable-service-principal": N_("Disable service principals that refuse deletion"),
}


def _label(action: str) -> str:
    return _(EXTRA_LABELS[action]) if action in EXTRA_LABELS else action_label(action)


def build_report(
    *,
    snapshot: Snapshot,
    plan: Plan,
    inventory: Inventory,
    observer: Observer,
    admin: RehearsalAdmin,
    code: int,
    tenant_deleted: bool,
    driver_lines: Iterable[dict[str, Any]],
    pace: Pace,
    totals: dict[str, int],
    end_state: dict[str, Any],
    start: datetime,
) -> RehearsalReport:
    steps = [_step_report(step, plan, observer, inventory, pace, start) for step in StepId]
    tenant = plan.tenant
    return RehearsalReport(
        tenant_id=tenant.id,
        tenant_name=tenant.display_name,
        initial_domain=tenant.initial_domain,
        captured_at=snapshot.captured_at,
        snapshot_version=str(snapshot.header.get("closeoutVersion")),
        redacted=snapshot.redacted,
        mfa_read=bool(snapshot.header.get("mfa")),
        rehearsed_at=start,
        code=int(code),
        tenant_deleted=tenant_deleted,
        pace=pace,
        steps=steps,
        handoffs=_handoffs(observer, admin, plan),
        findings=_findings(snapshot, plan, inventory, observer, admin, code, driver_lines),
        manual_checks=[(_(label), _(where)) for label, where in MANUAL_ITEMS.values()],
        timeline=_timeline(steps, plan, inventory, start),
        totals=totals,
        end_state=end_state,
    )


def _step_report(
    step: StepId,
    plan: Plan,
    observer: Observer,
    inventory: Inventory,
    pace: Pace,
    start: datetime,
) -> StepReport:
    counts = observer.steps[step]
    state = observer.states.get(step)
    planned = Counter(a.action for a in plan.for_step(step))
    outcomes = sorted(counts.outcomes.items())
    return StepReport(
        step=int(step),
        name=step_name(step),
        status=status_word(state.status) if state else "",
        summary=state.summary if state else "",
        planned=[(action_label(a), n) for a, n in planned.items()],
        outcomes=[(_label(a), _(OUTCOME_WORDS.get(o, o)), n) for (a, o), n in outcomes],
        requests=counts.requests,
        reads=counts.reads,
        batches=counts.batches,
        writes=counts.writes,
        ca_writes=counts.ca_writes,
        floor_seconds=write_floor(counts.writes, pace),
        predicted_seconds=step_seconds(counts.writes, counts.ca_writes, counts.reads, pace),
        waits=_waits(step, plan, inventory, start),
    )


def _waits(step: StepId, plan: Plan, inventory: Inventory, start: datetime) -> list[str]:
    # Self-service sign-up products are step 5's: Entra deletes them at once, nobody cancels.
    subs, _self_service = split(inventory.subscriptions)
    if step == StepId.DELETE_USERS and plan.ids("disable-directory-sync"):
        return [
            _(
                "directory synchronization turns off: up to 72 hours (Microsoft's figure); "
                "synced users are deleted as they are converted."
            )
        ]
    if step == StepId.CANCEL_SUBSCRIPTIONS:
        out = []
        for s in subs:
            if s.phase == SubscriptionPhase.ACTIVE:
                out.append(
                    _("{sub}: the partner cancels it.").format(sub=subscription_label(s))
                    if s.partner
                    else _("{sub}: you cancel it in the admin center.").format(
                        sub=subscription_label(s)
                    )
                )
            elif s.phase == SubscriptionPhase.EXPIRED and s.next_lifecycle is not None:
                out.append(
                    _("{sub}: expired; disabled by itself on {date:%Y-%m-%d}.").format(
                        sub=subscription_label(s), date=s.next_lifecycle
                    )
                )
        return out
    if step == StepId.DELETE_SUBSCRIPTIONS and any(
        s.phase != SubscriptionPhase.DELETED for s in subs
    ):
        return [
            _(
                "each subscription is deprovisioned 72 hours after you delete it; the tenant can "
                "be deleted only after that."
            )
        ]
    if step == StepId.DELETE_DIRECTORY:
        return [
            _(
                "you select Delete in the Entra admin center once every check passes; closeout "
                "watches until the tenant is gone."
            )
        ]
    return []


def _timeline(
    steps: list[StepReport], plan: Plan, inventory: Inventory, start: datetime
) -> Timeline:
    work = {StepId(s.step): s.predicted_seconds for s in steps}
    sync = SYNC_OFF_SECONDS if plan.ids("disable-directory-sync") else 0.0
    bought, _self_service = split(inventory.subscriptions)
    subs = [s for s in bought if s.phase != SubscriptionPhase.DELETED]
    expired = [
        max((s.next_lifecycle - start).total_seconds(), 0.0)
        for s in subs
        if s.phase == SubscriptionPhase.EXPIRED and s.next_lifecycle is not None
    ]
    subscriptions = (max(expired, default=0.0) + DEPROVISION_SECONDS) if subs else 0.0

    def total(sync_wait: float) -> float:
        users_then_mfa = (
            work[StepId.PREPARE] + work[StepId.DELETE_USERS] + sync_wait + work[StepId.DISABLE_MFA]
        )
        return max(users_then_mfa, subscriptions) + work[StepId.DELETE_DIRECTORY]

    assumptions = [
        _("you do each part in the portals as soon as closeout hands it over;"),
        _(
            "closeout has Graph's write quota to itself (other tools signed in to the tenant with "
            "the same app share it);"
        ),
    ]
    if any(s.partner for s in subs):
        assumptions.append(_("partners cancel what they sold as soon as you ask;"))
    if subs:
        assumptions.append(_("Microsoft deprovisions each deleted subscription in 72 hours;"))
    if any(not sp.is_microsoft for sp in inventory.service_principals):
        assumptions.append(
            _(
                "service principals that refuse deletion are disabled instead (the snapshot "
                "cannot show which will refuse)."
            )
        )
    reason = _("the work at Graph")
    if subscriptions and subscriptions >= total(0.0) - work[StepId.DELETE_DIRECTORY]:
        reason = (
            _("an expired subscription that becomes disabled by itself, then 72 hours")
            if expired and max(expired) > 0
            else _("the subscriptions: each is deprovisioned 72 hours after you delete it")
        )
    elif sync:
        reason = _("directory synchronization turning off (up to 72 hours)")
    return Timeline(sum(work.values()), total(0.0), total(sync), start, assumptions, reason)


def _handoffs(observer: Observer, admin: RehearsalAdmin, plan: Plan) -> list[HandoffReport]:
    """Each handoff as the admin first meets it, listing what the plan hands over."""
    out = []
    for step in sorted(observer.handoffs):
        h = observer.handoffs[step]
        planned = {a.object_id: a for a in plan.for_step(step) if a.kind == "handoff"}
        if step == StepId.DELETE_DIRECTORY:
            items = [f"{i.label} — {i.note}" if i.note else i.label for i in h.items]
        elif step == StepId.DELETE_SUBSCRIPTIONS:
            # At first most are still active: what matters is which ones will be deleted.
            items = [a.label for a in planned.values()]
        else:
            items = [
                f"{i.label}" + (f" — {i.note}" if i.note else "")
                for i in h.items
                if i.object_id in planned
            ]
        out.append(
            HandoffReport(
                step=int(step),
                title=h.title,
                link=h.link,
                click_path=list(h.click_path),
                items=items,
                notes=list(h.notes),
                played=[p.text for p in admin.played if p.step == step],
            )
        )
    return out


def _findings(
    snapshot: Snapshot,
    plan: Plan,
    inventory: Inventory,
    observer: Observer,
    admin: RehearsalAdmin,
    code: int,
    driver_lines: Iterable[dict[str, Any]],
) -> list[Finding]:
    found: list[Finding] = []
    seen: set[str] = set()
    driver_lines = list(driver_lines)

    def add(kind: str, step: StepId | None, text: str) -> None:
        if text not in seen:
            seen.add(text)
            found.append(Finding(kind, None if step is None else int(step), text))

    synced = inventory.synced_users
    if synced:
        add(
            WARNING,
            StepId.DELETE_USERS,
            _(
                "{n:,} users are synchronized from on-premises AD: directory sync is turned off "
                "first, and they are deleted only once converted (up to 72 hours)."
            ).format(n=len(synced)),
        )
    kept = plan.kept_ids
    other_gas = [u for u in inventory.users if u.is_global_admin and u.id not in kept]
    if other_gas:
        add(
            WARNING,
            StepId.DELETE_USERS,
            ngettext(
                "{n} other Global Administrator is deleted in step 1: {names}.",
                "{n} other Global Administrators are deleted in step 1: {names}.",
                len(other_gas),
            ).format(n=len(other_gas), names=", ".join(u.upn for u in other_gas)),
        )
    for s in inventory.subscriptions:
        if s.partner and s.phase in CANCELLING:
            add(
                BLOCKER,
                StepId.CANCEL_SUBSCRIPTIONS,
                _(
                    "{sub} was bought through a partner (tenant {partner}): only the partner "
                    "can cancel it."
                ).format(sub=subscription_label(s), partner=s.partner_tenant_id),
            )
        if s.phase != SubscriptionPhase.DELETED and is_self_service(s):
            add(
                WARNING,
                StepId.DELETE_DIRECTORY,
                _(
                    "{sub} is a self-service sign-up product: the admin center cannot cancel it; "
                    "delete it in the Entra admin center (Licenses > Self-service sign-up "
                    "products)."
                ).format(sub=subscription_label(s)),
            )
    client_id = str(snapshot.header.get("clientId") or "")
    own = find_own_app(own_app_ids(client_id), inventory.applications, inventory.service_principals)
    if own.blocking:
        add(
            WARNING,
            StepId.DELETE_DIRECTORY,
            _(
                "The app closeout signed in with ({client}) is registered in this tenant as "
                "{names}: it stays until everything else is done, then you delete it (step 5's "
                "handoff names it), or closeout does with --delete-own-app; once it is gone "
                "closeout's sign-in stops working."
            ).format(client=client_id, names=own.names),
        )
    for text in mfa_warnings(inventory.policies):
        add(WARNING, StepId.DISABLE_MFA, text)
    if not snapshot.header.get("mfa"):
        add(
            WARNING,
            StepId.DISABLE_MFA,
            _(
                "The snapshot did not read per-user MFA states (closeout snapshot --mfa): the "
                "rehearsal assumed MFA on for every account."
            ),
        )
    for part, reason in (snapshot.body.get("errors") or {}).items():
        add(
            WARNING,
            None,
            _(
                "The snapshot could not read {part} ({reason}): the rehearsal does not know it."
            ).format(part=part, reason=reason),
        )
    for text in plan.warnings:
        add(WARNING, None, text)
    for step, text in admin.met:
        add(BLOCKER, step, text)
    for step, counts in observer.steps.items():
        groups: dict[tuple[str, str], list[str]] = {}
        for f in counts.failures:
            key = (f.action, f"{f.status or ''} {f.code or ''} {f.message or ''}".strip())
            groups.setdefault(key, []).append(f.label)
        for (action, why), labels in groups.items():
            add(
                BLOCKER,
                step,
                _("{action} failed for {n:,} ({why}), e.g. {label}.").format(
                    action=_label(action), n=len(labels), why=why, label=labels[0]
                ),
            )
    for note in observer.notes:
        if note.level in ("warning", "error"):
            add(BLOCKER if note.level == "error" else WARNING, note.step, note.text)
    if code != ExitCode.DONE:
        for line in driver_lines:
            message = str(line.get("message") or "")
            if message:
                add(BLOCKER, None, message)
    return found
