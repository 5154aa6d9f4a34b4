"""The rehearsal report: per step what would be done, its requests and writes and how long it
will really take; the waits and the earliest day the tenant can be deleted; every handoff with
its link and click path; every blocker and warning. As text (the terminal), JSON (scripts) and
Markdown (for someone who never opens a terminal; written beside the rehearsal's evidence).

:func:`build_report` gathers it from what the rehearsal saw (:mod:`.observe`), what the admin's
stand-in met (:mod:`.admin`), the plan and the inventory read at the start, and the forecast
(:mod:`.forecast`). Everything shown comes from the tenant through Graph, already neutralised.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.durations import human_duration
from services.exit_codes import ExitCode
from services.i18n import N_, _, ngettext
from services.inventory.model import Inventory
from services.models import StepId, SubscriptionPhase
from services.names import status_word, step_name
from services.own_app import find_own_app, own_app_ids
from services.plan.labels import action_label, subscription_label
from services.plan.model import Plan
from services.self_service import is_self_service
from services.snapshot.fileformat import Snapshot
from services.steps.manual_checks import MANUAL_ITEMS
from services.steps.mfa import warnings as mfa_warnings
from services.textsafe import neutralise

from .admin import RehearsalAdmin
from .forecast import (
    DEPROVISION_SECONDS,
    SYNC_OFF_SECONDS,
    Pace,
    step_seconds,
    write_floor,
)
from .observe import Observer

__all__ = ["Finding", "HandoffReport", "RehearsalReport", "StepReport", "build_report"]

BLOCKER = "blocker"
WARNING = "warning"
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


@dataclass
class StepReport:
    step: int
    name: str
    status: str
    summary: str
    planned: list[tuple[str, int]] = field(default_factory=list)
    """(what, how many) as the plan says."""
    outcomes: list[tuple[str, str, int]] = field(default_factory=list)
    """(what, outcome, how many) as the rehearsal did it."""
    requests: int = 0
    reads: int = 0
    batches: int = 0
    writes: int = 0
    ca_writes: int = 0
    floor_seconds: float = 0.0
    predicted_seconds: float = 0.0
    waits: list[str] = field(default_factory=list)


@dataclass
class HandoffReport:
    step: int
    title: str
    link: str
    click_path: list[str]
    items: list[str]
    notes: list[str]
    played: list[str]


@dataclass
class Finding:
    kind: str
    """``blocker`` (stops the close-out until someone acts) or ``warning``."""
    step: int | None
    text: str


@dataclass
class Timeline:
    working_seconds: float
    earliest_seconds: float
    latest_seconds: float
    start: datetime
    assumptions: list[str]
    reason: str = ""
    """What sets the earliest deletion."""

    @property
    def earliest_at(self) -> datetime:
        return self.start + timedelta(seconds=self.earliest_seconds)

    @property
    def latest_at(self) -> datetime:
        return self.start + timedelta(seconds=self.latest_seconds)


@dataclass
class RehearsalReport:
    tenant_id: str
    tenant_name: str
    initial_domain: str
    captured_at: datetime
    snapshot_version: str
    redacted: bool
    mfa_read: bool
    rehearsed_at: datetime
    code: int
    tenant_deleted: bool
    pace: Pace
    steps: list[StepReport]
    handoffs: list[HandoffReport]
    findings: list[Finding]
    manual_checks: list[tuple[str, str]]
    timeline: Timeline
    totals: dict[str, int]
    end_state: dict[str, Any]
    evidence: str | None = None

    @property
    def outcome(self) -> str:
        if self.tenant_deleted:
            return _("The close-out went through to the end: the replica's tenant was deleted.")
        if self.code == ExitCode.FAILED:
            return _("The close-out stopped: some actions failed (listed under blockers).")
        return _("The close-out stopped before the end: it is waiting (see blockers).")

    # -- JSON ----------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        t = self.timeline
        return {
            "rehearsal": True,
            "tenant": {
                "id": self.tenant_id,
                "displayName": self.tenant_name,
                "initialDomain": self.initial_domain,
            },
            "snapshot": {
                "capturedAt": self.captured_at.isoformat(),
                "closeoutVersion": self.snapshot_version,
                "redacted": self.redacted,
                "mfa": self.mfa_read,
            },
            "rehearsedAt": self.rehearsed_at.isoformat(),
            "exitCode": int(self.code),
            "tenantDeleted": self.tenant_deleted,
            "outcome": self.outcome,
            "pace": asdict(self.pace),
            "steps": [
                {
                    "step": s.step,
                    "name": s.name,
                    "status": s.status,
                    "summary": s.summary,
                    "planned": [{"what": w, "count": n} for w, n in s.planned],
                    "outcomes": [{"what": w, "outcome": o, "count": n} for w, o, n in s.outcomes],
                    "requests": s.requests,
                    "reads": s.reads,
                    "batches": s.batches,
                    "writes": s.writes,
                    "caWrites": s.ca_writes,
                    "floorSeconds": round(s.floor_seconds, 3),
                    "predictedSeconds": round(s.predicted_seconds, 3),
                    "waits": s.waits,
                }
                for s in self.steps
            ],
            "timeline": {
                "start": t.start.isoformat(),
                "workingSeconds": round(t.working_seconds, 3),
                "earliestSeconds": round(t.earliest_seconds, 3),
                "latestSeconds": round(t.latest_seconds, 3),
                "earliestTenantDeletion": t.earliest_at.isoformat(),
                "latestTenantDeletion": t.latest_at.isoformat(),
                "assumptions": t.assumptions,
                "setBy": t.reason,
            },
            "handoffs": [asdict(h) for h in self.handoffs],
            "blockers": [asdict(f) for f in self.findings if f.kind == BLOCKER],
            "warnings": [asdict(f) for f in self.findings if f.kind == WARNING],
            "manualChecks": [{"check": c, "where": w} for c, w in self.manual_checks],
            "totals": self.totals,
            "endState": self.end_state,
            "evidence": self.evidence,
        }

    # -- text and Markdown --------------------------------------------------------------------

    def _head(self) -> list[str]:
        return [
            _("Rehearsal of the close-out of {name} ({domain}, {tenant})").format(
                name=self.tenant_name, domain=self.initial_domain, tenant=self.tenant_id
            ),
            _(
                "on a replica of the snapshot taken {time:%Y-%m-%d %H:%M} UTC (closeout "
                "{version}{redacted}{mfa}). Nothing was sent to Microsoft."
            ).format(
                time=self.captured_at.astimezone(UTC),
                version=self.snapshot_version,
                redacted=_(", names pseudonymised") if self.redacted else "",
                mfa="" if self.mfa_read else _(", per-user MFA not read"),
            ),
        ]

    def _step_lines(self, s: StepReport) -> list[str]:
        lines = []
        if s.planned:
            lines.append(
                _("What would be done: {list}").format(
                    list="; ".join(f"{w} × {n:,}" for w, n in s.planned)
                )
            )
        if s.outcomes:
            lines.append(
                _("In the rehearsal: {list}").format(
                    list="; ".join(f"{w}: {n:,} {o}" for w, o, n in s.outcomes)
                )
            )
        if s.requests:
            lines.append(
                _(
                    "Requests: {req:,} ({reads:,} reads, {batches:,} $batch); writes: {writes:,}"
                ).format(
                    req=s.requests, reads=s.reads, batches=s.batches, writes=s.writes + s.ca_writes
                )
            )
            lines.append(self._duration_line(s))
        elif s.step in (StepId.CANCEL_SUBSCRIPTIONS, StepId.DELETE_SUBSCRIPTIONS):
            lines.append(_("No API: you do it in the admin center; closeout watches."))
        lines += [_("Wait: {text}").format(text=w) for w in s.waits]
        return lines

    def _duration_line(self, s: StepReport) -> str:
        p = self.pace
        if s.writes and s.floor_seconds >= 1:
            return _(
                "Takes at least {floor} at Graph's write quota ({quota:,} per {window:.0f} s); "
                "about {predicted} with {latency:.1f} s per request and {n} batches in flight."
            ).format(
                floor=human_duration(s.floor_seconds),
                quota=p.write_quota,
                window=p.write_window,
                predicted=human_duration(s.predicted_seconds),
                latency=p.latency,
                n=p.concurrency,
            )
        return _("About {predicted} of work at Graph ({latency:.1f} s per request).").format(
            predicted=human_duration(s.predicted_seconds), latency=p.latency
        )

    def _timeline_lines(self) -> list[str]:
        t = self.timeline
        lines = [
            _("Working time at Graph, all steps: about {t}.").format(
                t=human_duration(t.working_seconds)
            ),
            _(
                "Earliest tenant deletion: {early} after you start; at most {late} if directory "
                "sync takes its full 72 hours."
            ).format(
                early=human_duration(t.earliest_seconds), late=human_duration(t.latest_seconds)
            )
            if t.latest_seconds > t.earliest_seconds
            else _("Earliest tenant deletion: {early} after you start.").format(
                early=human_duration(t.earliest_seconds)
            ),
            _("Started now ({now:%Y-%m-%d %H:%M} UTC): not before {at:%Y-%m-%d %H:%M} UTC.").format(
                now=t.start, at=t.earliest_at
            ),
        ]
        if t.reason:
            lines.append(_("What sets it: {reason}.").format(reason=t.reason))
        return lines

    def _totals_line(self) -> str:
        return _("Requests to the replica: {n:,}, of which {w:,} writes; {t:,} throttled.").format(
            n=self.totals.get("requests", 0),
            w=self.totals.get("writes", 0),
            t=self.totals.get("throttled", 0),
        )

    def to_text(self) -> str:
        out = [*self._head(), "", self.outcome, ""]
        for s in self.steps:
            out.append(
                _("Step {n} — {name}: {status}").format(n=s.step, name=s.name, status=s.status)
            )
            out += [f"  {line}" for line in self._step_lines(s)]
            out.append("")
        out += self._timeline_lines()
        out += [f"  - {a}" for a in self.timeline.assumptions]
        out.append("")
        if self.handoffs:
            out.append(_("What you will do in the portals:"))
            for h in self.handoffs:
                out.append(
                    _("  Step {n} — {title}: {link}").format(n=h.step, title=h.title, link=h.link)
                )
                out += [f"    {i}. {p}" for i, p in enumerate(h.click_path, 1)]
                out += [f"    - {item}" for item in h.items]
                out += [f"    ({note})" for note in h.notes]
            out.append("")
        for kind, title in ((BLOCKER, _("Blockers:")), (WARNING, _("Warnings:"))):
            found = [f for f in self.findings if f.kind == kind]
            if found:
                out.append(title)
                out += [f"  {'!' if kind == BLOCKER else '-'} {_where(f)}{f.text}" for f in found]
                out.append("")
        out.append(_("Checks no API can make (you confirm them before step 5):"))
        out += [f"  - {c} ({w})" for c, w in self.manual_checks]
        out.append("")
        out.append(self._totals_line())
        if self.evidence:
            out.append(
                _("This report and the rehearsal's evidence: {path}").format(path=self.evidence)
            )
        return "\n".join(out) + "\n"

    def to_markdown(self) -> str:
        head = self._head()
        out = [
            f"# {_('REHEARSAL')}: {_md(head[0])}",
            "",
            _md(head[1]),
            "",
            f"**{self.outcome}**",
            "",
        ]
        out += [f"## {_('Steps')}", ""]
        out += [
            "| "
            + " | ".join(
                [
                    _("Step"),
                    _("What would be done"),
                    _("Writes"),
                    _("Requests"),
                    _("At least"),
                    _("About"),
                    _("Waits"),
                ]
            )
            + " |",
            "|---|---|---:|---:|---:|---:|---|",
        ]
        for s in self.steps:
            out.append(
                "| "
                + " | ".join(
                    [
                        f"{s.step} {_md(s.name)}",
                        "<br>".join(f"{_md(w)} × {n:,}" for w, n in s.planned) or "—",
                        f"{s.writes + s.ca_writes:,}",
                        f"{s.requests:,}",
                        human_duration(s.floor_seconds) if s.writes else "—",
                        human_duration(s.predicted_seconds),
                        "<br>".join(_md(w) for w in s.waits) or "—",
                    ]
                )
                + " |"
            )
        out += ["", f"## {_('When the tenant can be deleted')}", ""]
        out += [f"- {_md(line)}" for line in self._timeline_lines()]
        out += ["", _("Assuming:"), ""]
        out += [f"- {_md(a)}" for a in self.timeline.assumptions]
        if self.handoffs:
            out += ["", f"## {_('What you will do in the portals')}", ""]
            for h in self.handoffs:
                out += [f"### {_('Step')} {h.step}: {_md(h.title)}", "", f"<{h.link}>", ""]
                out += [f"{i}. {_md(p)}" for i, p in enumerate(h.click_path, 1)]
                if h.items:
                    out += ["", *[f"- {_md(item)}" for item in h.items]]
                if h.notes:
                    out += ["", *[f"> {_md(note)}" for note in h.notes]]
                out.append("")
        for kind, title in ((BLOCKER, _("Blockers")), (WARNING, _("Warnings"))):
            found = [f for f in self.findings if f.kind == kind]
            if found:
                out += ["", f"## {title}", ""]
                out += [f"- {_md(_where(f) + f.text)}" for f in found]
        out += ["", f"## {_('Checks no API can make')}", ""]
        out += [f"- {_md(c)} ({_md(w)})" for c, w in self.manual_checks]
        out += ["", _md(self._totals_line())]
        return "\n".join(out) + "\n"


def _where(f: Finding) -> str:
    return "" if f.step is None else _("step {n}: ").format(n=f.step)


def _md(text: str) -> str:
    """Text from the tenant, safe inside Markdown: no markup, tables or raw HTML of its own."""
    text = neutralise(text)
    for ch in "\\`*_[]<>|#":
        text = text.replace(ch, "\\" + ch)
    return text


# -- building -------------------------------------------------------------------------------


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
    subs = inventory.subscriptions
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
    subs = [s for s in inventory.subscriptions if s.phase != SubscriptionPhase.DELETED]
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
        if s.partner and s.phase in (SubscriptionPhase.ACTIVE, SubscriptionPhase.EXPIRED):
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
