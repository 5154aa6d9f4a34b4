"""What the admin hears on coming back: the unfinished run a resume continues (which step, how
many done and in flight, when it stopped), the step a stop left half done ("Step 1 was stopped
at 400/4,999 … — r continues"), and what changed while closeout was not looking ("since you
left": the steps as the journal last recorded them against a fresh read).

Plain functions of the journal's records and the engine's states, worked out by the sign-in
worker while it connects; the app only shows them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from services.i18n import _, ngettext
from services.models import StepId, StepState, StepStatus
from services.names import status_word, step_name
from services.timestamps import parse_time

if TYPE_CHECKING:
    from services.journal.resume import UnfinishedRun


@dataclass(frozen=True)
class Resumable:
    """An unfinished run, as the resume question tells it."""

    run_id: str
    pending: int
    done: int
    step: StepId | None
    stopped_at: datetime | None


@dataclass(frozen=True)
class Away:
    """News for a start after a clean quit."""

    left_at: datetime | None = None
    changes: list[str] = field(default_factory=list)
    """One line per step whose status changed since the journal last recorded it."""
    stopped: str = ""
    """"Step 1 was stopped at 400/4,999 on … — r continues." (empty if nothing was)."""
    stopped_step: StepId | None = None


def when(moment: datetime | None) -> str:
    """A journal time as the admin reads it: UTC, to the minute, with its zone."""
    if moment is None:
        return _("at an unknown time")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def resumable(unfinished: UnfinishedRun) -> Resumable:
    running = [
        (rec.get("t") or "", step)
        for step, rec in unfinished.steps.items()
        if rec.get("status") == StepStatus.RUNNING and isinstance(step, int)
    ]
    # A step records "running" as it starts; a run killed before that names its step only in
    # the writes it left in flight.
    in_flight = [rec.get("step") for rec in unfinished.pending]
    step = _step_id(max(running)[1] if running else (in_flight[-1] if in_flight else None))
    done = unfinished.counts.get("done", 0) + unfinished.counts.get("gone", 0)
    return Resumable(
        unfinished.run_id, len(unfinished.pending), done, step, unfinished.last_at
    )


def resume_text(r: Resumable) -> str:
    where = (
        _("step {step} {name} was running").format(step=int(r.step), name=step_name(r.step))
        if r.step is not None
        else _("no step was running")
    )
    in_flight = ngettext(
        "{n} action was in flight", "{n} actions were in flight", r.pending
    ).format(n=f"{r.pending:,}")
    return _(
        "The journal shows a run that did not finish ({run}): {where} when it stopped, "
        "{when}. {done:,} done; {in_flight}. closeout has re-read the tenant, "
        "so nothing will be done twice. Resume it?"
    ).format(run=r.run_id, where=where, when=when(r.stopped_at), done=r.done, in_flight=in_flight)


def away(
    seen: Mapping[int, Mapping[str, Any]],
    left_at: datetime | None,
    stops: Mapping[int, Mapping[str, Any]],
    states: Mapping[StepId, StepState],
) -> Away:
    """``seen``: each step's latest journal ``step`` record and ``left_at`` the journal's last
    write, read before this session recorded anything; ``stops``: each step's latest
    ``not-sent`` record; ``states``: the steps as a fresh read shows them now."""
    changes = []
    for step, now in states.items():
        before = _status(seen.get(int(step), {}).get("status"))
        if before is None or before == now.status or now.status == StepStatus.RUNNING:
            continue
        changes.append(
            _("step {step} {name}: {before} then, {now} now — {summary}")
            .format(
                step=int(step),
                name=step_name(step),
                before=status_word(before),
                now=status_word(now.status),
                summary=now.summary,
            )
            .rstrip(" —")
        )
    stopped, stopped_step = "", None
    latest = sorted(stops.values(), key=lambda rec: str(rec.get("t") or ""))
    for rec in reversed(latest):
        stopped_step = _step_id(rec.get("step"))
        st = states.get(stopped_step) if stopped_step is not None else None
        if st is None or st.status == StepStatus.DONE:
            continue
        at = when(parse_time(rec.get("t")))
        stopped = (
            _("Step {step} was stopped at {done:,}/{total:,} on {when} — r continues.").format(
                step=int(st.step), done=st.done, total=st.total, when=at
            )
            if st.total
            else _("Step {step} was stopped on {when} — r continues.").format(
                step=int(st.step), when=at
            )
        )
        break
    else:
        stopped_step = None
    return Away(left_at, changes, stopped, stopped_step)


def away_text(news: Away) -> str:
    """The "since you left" lines, headed by when that was."""
    head = _("Since you left ({when}):").format(when=when(news.left_at))
    return "\n".join([head, *(f"• {line}" for line in news.changes)])


def _status(value: object) -> StepStatus | None:
    try:
        return StepStatus(str(value))
    except ValueError:
        return None


def _step_id(value: object) -> StepId | None:
    return next((s for s in StepId if s == value), None)
