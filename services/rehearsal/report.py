"""The rehearsal report: per step what would be done, its requests and writes and how long it
will really take; the waits and the earliest day the tenant can be deleted; every handoff with
its link and click path; every blocker and warning. As text (the terminal), JSON (scripts) and
Markdown (for someone who never opens a terminal; written beside the rehearsal's evidence).

This module holds the report and renders it; its parts are in :mod:`.parts`, and
:func:`.build.build_report` gathers it from what the rehearsal saw (:mod:`.observe`), what the
admin's stand-in met (:mod:`.admin`), the plan and the inventory read at the start, and the
forecast (:mod:`.forecast`). Everything shown comes from the tenant through Graph, already
neutralised.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from services.durations import human_duration
from services.exit_codes import ExitCode
from services.i18n import _
from services.models import StepId
from services.textsafe import neutralise

from .forecast import (
    Pace,
)
from .parts import BLOCKER, WARNING, Finding, HandoffReport, StepReport, Timeline

__all__ = ["RehearsalReport"]


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
            f"# {_md(head[0])}",  # "Rehearsal of the close-out of …" says what it is
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
