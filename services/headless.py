"""The headless close-out: the contract scripts and tests rely on (``closeout run --headless``).

Runs every step the API allows, prints each state change (or one JSON object per line), hands
off what needs a person, waits and watches (unless ``--no-wait``), and ends with a documented
exit code. Without ``--yes`` nothing destructive runs; step 5's irreversible cleanup also needs
``--confirm-domain`` equal to the initial domain.

With ``--json`` every line is one object with ``time`` (UTC, ISO 8601), ``step`` (0–5, or null)
and ``event``: ``plan``, ``resume``, ``step``, ``confirmed``, ``item``, ``progress``,
``handoff``, ``note``, ``missing``, ``wait`` (what closeout waits for, why, and until when),
``waiting``, ``heartbeat``, ``not-sent``, ``failed``, ``stopped``, ``error``, and last ``exit``
with the exit code.

While it waits it prints a heartbeat line every minute (``heartbeat``: the steps it waits for,
for how long, and when it reads Graph next), so that a log shows the run is alive.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from .control import RunControl, Waiting
from .durations import format_duration
from .engine import Engine
from .engine.state import FRESH
from .errors import CloseoutError, GraphError, Stopped
from .exit_codes import ExitCode, exit_code_for
from .i18n import _, ngettext
from .keep import keep_reason
from .models import (
    Event,
    Handoff,
    HandoffUpdated,
    ItemFinished,
    Noted,
    NotSent,
    ProgressUpdated,
    StepChanged,
    StepId,
    StepState,
    StepStatus,
    SubscriptionPhase,
    SubscriptionRow,
)
from .names import phase_word, status_word, step_name
from .plan.labels import action_label, own_app_text, subscription_label
from .steps import registry
from .steps.last_resort import CONFIRM_WHAT as CONFIRM_ALL_SPS

POLL_ANNOUNCE = 30.0
"""Seconds: a wait for the next read at least this long says what it waits for, until when."""


class Reporter:
    """Turns engine events into lines (or JSON lines) on ``out``. Thread-safe."""

    def __init__(
        self,
        out: TextIO,
        *,
        json_mode: bool,
        progress_every: float = 5.0,
        on_lost: Callable[[OSError], None] | None = None,
    ) -> None:
        self.out = out
        self.json_mode = json_mode
        self.progress_every = progress_every
        self.on_lost = on_lost
        """Called once when writing ``out`` fails (a closed terminal or pipe): the run stops,
        and nothing more is written there."""
        self._lost = False
        self._lock = threading.Lock()
        self._last_progress: dict[StepId, tuple[float, tuple[int, int, int] | None]] = {}
        self._handoffs: dict[StepId, Handoff] = {}
        self.watchers: list[Callable[[Event], None]] = []
        """Also hear every engine event (``services.notify.News``)."""

    def emit(self, obj: dict[str, Any], text: str | None) -> None:
        try:
            self._write(obj, text)
        except OSError as exc:
            with self._lock:
                first, self._lost = not self._lost, True
            if first and self.on_lost is not None:
                self.on_lost(exc)

    def wait(self, waiting: Waiting) -> None:
        """What closeout waits for and until when (a ``wait`` event)."""
        self.emit(
            {
                "event": "wait",
                "what": waiting.what,
                "why": waiting.reason,
                "seconds": round(waiting.seconds, 3),
                "until": waiting.until.isoformat(timespec="seconds"),
            },
            waiting.text(),
        )

    def _write(self, obj: dict[str, Any], text: str | None) -> None:
        with self._lock:
            if self._lost:
                return
            if self.json_mode:
                # Every line carries time, step (null when it concerns no one step) and event,
                # so that a script can route lines without knowing each event's shape.
                obj = {
                    "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "step": None,
                    **obj,
                }
                self.out.write(json.dumps(obj, default=str, ensure_ascii=False) + "\n")
            elif text is not None:
                self.out.write(f"[{datetime.now():%H:%M:%S}] {text}\n")
            self.out.flush()

    def __call__(self, event: Event) -> None:
        self._show(event)
        for watcher in self.watchers:
            watcher(event)

    def _show(self, event: Event) -> None:
        if isinstance(event, StepChanged):
            self.step_changed(event.state)
        elif isinstance(event, ItemFinished):
            ok = event.outcome in ("done", "gone")
            self.emit(
                {
                    "step": int(event.step),
                    "event": "item",
                    "action": event.action,
                    "object": event.object_id,
                    "label": event.label,
                    "outcome": event.outcome,
                    "status": event.status,
                    "code": event.code,
                    "message": event.message,
                    "request_id": event.request_id,
                },
                None
                if ok
                else f"  {event.action} {event.label}: {event.outcome} "
                f"{event.status or ''} {event.code or ''} {event.message or ''}".rstrip(),
            )
        elif isinstance(event, ProgressUpdated):
            self.progress(event)
        elif isinstance(event, HandoffUpdated):
            self.handoff(event.handoff)
        elif isinstance(event, NotSent):
            self.emit(
                {
                    "step": int(event.step),
                    "event": "not-sent",
                    "action": event.action,
                    "count": event.count,
                },
                f"  {event.text()}",
            )
        elif isinstance(event, Noted):
            self.emit(
                {
                    "step": None if event.step is None else int(event.step),
                    "event": "note",
                    "level": event.level,
                    "message": event.text,
                },
                f"{event.level}: {event.text}",
            )

    def progress(self, event: ProgressUpdated) -> None:
        now = datetime.now(UTC).timestamp()
        key = (event.done, event.failed, event.total)
        finished = event.done + event.failed >= event.total
        last_at, last_key = self._last_progress.get(event.step, (0.0, None))
        if key == last_key or (not finished and now - last_at < self.progress_every):
            return
        self._last_progress[event.step] = (now, key)
        eta = (
            f", ETA {format_duration(event.eta_seconds)}"
            if event.eta_seconds and not finished
            else ""
        )
        self.emit(
            {
                "step": int(event.step),
                "event": "progress",
                "done": event.done,
                "total": event.total,
                "failed": event.failed,
                "eta_seconds": event.eta_seconds,
                "writes_in_window": event.writes_in_window,
                "write_quota": event.write_quota,
            },
            _("step {step}: {done:,}/{total:,} done, {failed:,} failed{eta}").format(
                step=int(event.step),
                done=event.done,
                total=event.total,
                failed=event.failed,
                eta=eta,
            ),
        )

    def step_changed(self, st: StepState) -> None:
        until = f" — {_('until')} {st.waiting_until:%Y-%m-%d %H:%M} UTC" if st.waiting_until else ""
        counts = f" ({st.done}/{st.total})" if st.total else ""
        self.emit(
            {
                "step": int(st.step),
                "event": "step",
                "status": str(st.status),
                "summary": st.summary,
                "done": st.done,
                "total": st.total,
                "failed": st.failed,
                "waiting_for": st.waiting_for,
                "waiting_until": st.waiting_until,
                "link": st.link,
                "blockers": list(st.blockers),
            },
            f"{_('step')} {int(st.step)} {step_name(st.step)}: {status_word(st.status)}{counts}"
            f" — {st.summary}{until}",
        )

    def handoff(self, h: Handoff) -> None:
        old = self._handoffs.get(h.step)
        self._handoffs[h.step] = h
        if h.done or (old is not None and old.items == h.items):
            return
        lines = [f"  {h.title}: {h.link}"] if old is None else []
        if old is None:
            lines += [f"    {i}. {p}" for i, p in enumerate(h.click_path, 1)]
        for item in h.items:
            until = f" ({_('until')} {item.until:%Y-%m-%d %H:%M} UTC)" if item.until else ""
            lines.append(f"    - {item.label}: {item.state}{until} {item.note}".rstrip())
        self.emit(
            {
                "step": int(h.step),
                "event": "handoff",
                "title": h.title,
                "link": h.link,
                "click_path": list(h.click_path),
                "items": [
                    {
                        "object": i.object_id,
                        "label": i.label,
                        "state": i.state,
                        "until": i.until,
                        "note": i.note,
                        **(i.product.to_json() if i.product else {}),
                    }
                    for i in h.items
                ],
            },
            "\n".join(lines),
        )


HEARTBEAT = 60.0
"""Seconds between heartbeat lines while a headless run waits."""


class Heartbeat:
    """A line every ``every`` seconds while the run waits, across its polls of Graph."""

    def __init__(self, report: Reporter, every: float = HEARTBEAT) -> None:
        self.report = report
        self.every = every
        self._since: float | None = None
        self._next = 0.0

    def reset(self) -> None:
        """The run acts again: the next wait starts its own count."""
        self._since = None

    def wait(self, control: RunControl, seconds: float, steps: Sequence[int]) -> bool:
        """Wait ``seconds`` (True if stopped meanwhile), beating on time for ``steps``."""
        now = time.monotonic()
        if self._since is None:
            self._since, self._next = now, now + self.every
        deadline = now + seconds
        while True:
            now = time.monotonic()
            if now >= deadline:
                return control.stopped
            if control.wait(min(deadline, self._next) - now):
                return True
            now = time.monotonic()
            if now >= self._next:
                self._beat(steps, now, deadline - now)
                self._next += self.every
                if self._next <= now:  # the machine slept: beat on from now
                    self._next = now + self.every

    def _beat(self, steps: Sequence[int], now: float, next_read: float) -> None:
        waited = now - (self._since or now)
        which = ", ".join(str(s) for s in steps)
        self.report.emit(
            {
                "event": "heartbeat",
                "steps": list(steps),
                "waited_seconds": round(waited),
                "next_read_seconds": round(max(next_read, 0)),
            },
            ngettext(
                "still waiting for step {steps} ({waited} so far); next read in {next}",
                "still waiting for steps {steps} ({waited} so far); next read in {next}",
                len(steps),
            ).format(
                steps=which, waited=format_duration(waited), next=format_duration(max(next_read, 0))
            ),
        )


@dataclass
class DriveOptions:
    yes: bool = False
    confirm_domain: str | None = None
    wait: bool = True
    manual: tuple[str, ...] = ()
    max_stuck: int = 2
    portal_refused: bool = False
    """The admin says the portal refused "Delete tenant": offer the last resort."""
    confirm_all_sps: str | None = None
    """The typed initial domain that allows it."""
    heartbeat: float = field(default_factory=lambda: HEARTBEAT)
    """Seconds between heartbeat lines while waiting."""


@dataclass
class Outcome:
    code: ExitCode
    waiting: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _question(engine: Engine, step: StepId) -> str:
    """The count question the step asks before it acts (its registry entry words it)."""
    ask = engine.confirmation(step)
    return ask.question if ask is not None else ""


def _stop_for_missing(engine: Engine, report: Reporter) -> Outcome | None:
    missing = engine.missing()
    if not missing:
        return None
    for m in missing:
        report.emit(
            {"event": "missing", "kind": m.kind, "name": m.name, "step": int(m.step)}, m.text()
        )
    return Outcome(ExitCode.AUTH, failures=[m.text() for m in missing])


def drive(engine: Engine, opts: DriveOptions, report: Reporter, control: RunControl) -> Outcome:
    """Run the close-out as far as it can go now (and, with ``wait``, until it is done).

    A 403 ends the run with exit 5: a permission or role is missing (the error names it).
    """
    stop = _stop_for_missing(engine, report)
    if stop is not None:
        return stop
    if opts.confirm_domain is not None:
        engine.check_domain(opts.confirm_domain)
    if opts.confirm_all_sps is not None:
        engine.check_domain(opts.confirm_all_sps, CONFIRM_ALL_SPS)
    for key in opts.manual:
        engine.tick(key)
    if opts.manual and not engine.recording:
        line = _(
            "read-only: the manual checks confirmed with --confirm-manual are not recorded; "
            "a run without --read-only asks for them again."
        )
        report.emit({"event": "note", "level": "warning", "message": line}, f"warning: {line}")
    try:
        outcome = _drive(engine, opts, report, control)
    except Stopped:
        outcome = None  # a wait was interrupted by the stop: said below, like any stop
    if outcome is not None:
        return outcome
    # A stop (Ctrl-C, SIGTERM, a dropped SSH session) lands between batches: say so, with
    # what this run did and did not send, so that a bare exit 3 is not mistaken for a wait.
    tally = engine.tally()
    line = stopped_line(tally)
    report.emit(
        {"event": "stopped", "message": line, "reason": control.reason, "counts": tally}, line
    )
    return Outcome(ExitCode.WAITING, waiting=[line])


def stopped_line(tally: dict[str, int]) -> str:
    """ "Stopped: 4,599 not sent, 400 done. Every request sent has its outcome recorded…"."""
    words = {
        "not-sent": _("{n} not sent"),
        "done": _("{n} done"),
        "gone": _("{n} already gone"),
        "failed": _("{n} failed"),
        "unknown": _("{n} unknown (a fresh read settles them)"),
        "skipped": _("{n} not finished"),
    }
    parts = [text.format(n=f"{tally[key]:,}") for key, text in words.items() if tally.get(key)]
    head = _("Stopped: {counts}.").format(counts=", ".join(parts)) if parts else _("Stopped.")
    tail = _("Every request sent has its outcome recorded. Run the same command again to continue.")
    return f"{head} {tail}"


def _drive(
    engine: Engine, opts: DriveOptions, report: Reporter, control: RunControl
) -> Outcome | None:
    """The loop of :func:`drive`; None when it stopped on request."""
    stuck: dict[StepId, int] = {}
    failures: dict[StepId, tuple[str, ...]] = {}
    last_resort_done = False
    # The command's own read, or the one a step made after its writes, is current for the
    # assessment that follows at once; after a wait the tenant is read again.
    reuse = FRESH
    beat = Heartbeat(report, opts.heartbeat)
    while not control.stopped:
        states = engine.assess(reuse=reuse)
        reuse = FRESH
        if engine.gone or states[StepId.DELETE_DIRECTORY].status == StepStatus.DONE:
            return Outcome(ExitCode.DONE)
        # A fresh read may have met a 403 that tells what an unreadable token lacks.
        stop = _stop_for_missing(engine, report)
        if stop is not None:
            return stop
        acted, needs = _act(engine, states, opts, report, control, stuck, failures)
        if acted:
            beat.reset()
            continue
        if opts.portal_refused and not last_resort_done and engine.last_resort_available():
            if opts.confirm_all_sps is None:
                needs.append(
                    _(
                        "step 5: to delete, then disable, every service principal (Microsoft's "
                        "too), pass --confirm-remove-all-sps {domain}."
                    ).format(domain=engine.caller.tenant.initial_domain)
                )
            else:
                last_resort_done = True
                if _last_resort(engine, opts, report, control, failures):
                    continue
        if failures:
            lines = [
                _("step {step}: {text}").format(step=int(s), text=b)
                for s, bs in failures.items()
                for b in bs
            ]
            for line in lines:
                report.emit(
                    {"event": "failed", "message": line}, _("FAILED {line}").format(line=line)
                )
            return Outcome(ExitCode.FAILED, failures=lines)
        waiting = needs + [_waiting_line(s) for s in states.values() if s.status.waiting]
        waiting += [_waiting_line(s) for s in states.values() if s.status == StepStatus.BLOCKED]
        # Waiting only helps while something outside this process is under way (a 72-hour
        # wait, a handoff to a person) and the run can still end. If an option is missing
        # (--yes, --confirm-domain, no --read-only), nothing is under way, or a step is blocked
        # for good (users appeared after planning, a check only a person can fix), no poll will
        # ever change that: say so now instead of hanging.
        external = any(s.status.waiting for s in states.values())
        if (
            needs
            or not external
            or registry.stuck_for_good(states)
            or not opts.wait
            or engine.options.read_only
        ):
            for line in waiting:
                report.emit({"event": "waiting", "message": line}, f"{_('waiting')}: {line}")
            return Outcome(ExitCode.WAITING, waiting=waiting)
        poll = engine.options.poll_interval
        notice = _poll_wait(waiting, poll)
        if notice is not None and not control.stopped:
            control.announce(notice)  # until when; the heartbeat then says it is still alive
        steps = [int(s.step) for s in states.values() if s.status.waiting]
        if beat.wait(control, poll, steps):
            break
        reuse = 0.0
    return None


def _poll_wait(waiting: list[str], seconds: float) -> Waiting | None:
    """The wait before the next read, said when it is long enough to wonder about."""
    if seconds < POLL_ANNOUNCE or not waiting:
        return None
    return Waiting.starting_now("; ".join(waiting), _("next read in {seconds}"), seconds)


def _waiting_line(s: StepState) -> str:
    line = _("step {step}: {text}").format(step=int(s.step), text=s.waiting_for or s.summary)
    if s.waiting_until is not None:
        line += f" — {_('until')} {s.waiting_until:%Y-%m-%d %H:%M} UTC"
    if s.status == StepStatus.BLOCKED and s.blockers:
        line += " (" + "; ".join(s.blockers) + ")"
    return line + (f" — {s.link}" if s.link else "")


def _act(
    engine: Engine,
    states: dict[StepId, StepState],
    opts: DriveOptions,
    report: Reporter,
    control: RunControl,
    stuck: dict[StepId, int],
    failures: dict[StepId, tuple[str, ...]],
) -> tuple[bool, list[str]]:
    """Run the first step that can act now. Returns (acted, reasons it could not)."""
    needs: list[str] = []
    if engine.options.read_only:
        return False, [_("read-only: nothing was changed")]
    ticked = engine.ticks()
    for spec in registry.STEPS:
        unticked = [k for k in spec.manual_checks if k not in ticked]
        if states[spec.id].status == StepStatus.WAITING_PERSON and unticked:
            # Only this process could record the ticks (it holds the journal), and it takes
            # them from its command line: waiting would never see them.
            needs.append(
                _(
                    "step {step}: once they are true, confirm the checks no API can make with "
                    "--confirm-manual {keys} (or all)."
                ).format(step=int(spec.id), keys=",".join(unticked))
            )
    # In the registry's order, every step an API runs; never the planning step: a headless run
    # applies the plan it was given and does not make a new one on its own.
    for spec in registry.STEPS:
        step = spec.id
        if spec.run is None or spec.plans:
            continue
        st = states[step]
        if st.status != StepStatus.PENDING or step in failures:
            continue
        question = _question(engine, step)
        if not opts.yes:
            needs.append(
                _("step {step}: {question} Pass --yes to do it.").format(
                    step=int(step), question=question
                )
            )
            continue
        if spec.typed_domain and opts.confirm_domain is None:
            needs.append(
                _(
                    "step {step}: pass --confirm-domain {domain} to run the irreversible cleanup."
                ).format(step=int(step), domain=engine.caller.tenant.initial_domain)
            )
            continue
        report.emit(
            {"step": int(step), "event": "confirmed", "message": question},
            f"{_('step')} {int(step)}: {question} --yes",
        )
        try:
            result = engine.run_step(step, confirm_domain=opts.confirm_domain, control=control)
        except CloseoutError as exc:
            if isinstance(exc, GraphError) and exc.status == 403:
                raise  # not this step's failure: the run lacks a permission or role (exit 5)
            if exit_code_for(exc) == ExitCode.WAITING:
                raise  # stopped, Graph asked for a long wait, an outage: not the step's failure
            failures[step] = (str(exc),)
            return False, needs
        if result.status == StepStatus.FAILED:
            failures[step] = result.blockers
            return False, needs
        if result.status == st.status and result.done == st.done:
            stuck[step] = stuck.get(step, 0) + 1
            if stuck[step] >= opts.max_stuck:
                failures[step] = (result.summary, *result.blockers)
                return False, needs
        return True, needs
    return False, needs


def _last_resort(
    engine: Engine,
    opts: DriveOptions,
    report: Reporter,
    control: RunControl,
    failures: dict[StepId, tuple[str, ...]],
) -> bool:
    """DELTEN's "Remove enterprise apps that you can't delete", once; True if it ran."""
    lines = engine.last_resort_consequences()
    report.emit(
        {
            "step": int(StepId.DELETE_DIRECTORY),
            "event": "confirmed",
            "action": CONFIRM_ALL_SPS,
            "message": " ".join(lines),
        },
        "\n".join(
            [f"{_('step')} 5: {_('the portal refused Delete tenant; last resort:')}"]
            + [f"  - {line}" for line in lines]
        ),
    )
    try:
        result = engine.remove_all_service_principals(opts.confirm_all_sps, control=control)
    except CloseoutError as exc:
        failures[StepId.DELETE_DIRECTORY] = (str(exc),)
        return False
    if result.status == StepStatus.FAILED:
        failures[StepId.DELETE_DIRECTORY] = result.blockers
        return False
    return True


def print_plan(engine: Engine, out: TextIO = sys.stdout, *, json_mode: bool = False) -> None:
    plan = engine.plan
    if plan is None:
        raise CloseoutError(_("No plan."))
    if json_mode:
        plan.write_json(out)
        return
    t = plan.tenant
    out.write(f"{_('Plan for')} {t.display_name} ({t.initial_domain}, {t.id})\n")
    out.write(f"{_('Kept')}:\n")
    for k in plan.keep:
        out.write(f"  {k.upn} — {keep_reason(k)}\n")
    out.write(f"{_('Sign-in app')}: {own_app_text(plan.own_app)}\n")
    for w in plan.warnings:
        out.write(f"! {w}\n")
    for step in registry.ids():
        actions = plan.for_step(step)
        out.write(f"\n{_('Step')} {int(step)} — {step_name(step)}: {len(actions)} {_('actions')}\n")
        by_action: dict[str, list[Any]] = {}
        for a in actions:
            by_action.setdefault(a.action, []).append(a)
        for action, items in by_action.items():
            out.write(f"  {action_label(action)} × {len(items):,}\n")
            for a in items[:10]:
                detail = f" ({a.detail})" if a.detail else ""
                out.write(f"    {a.label}{detail}\n")
            if len(items) > 10:
                out.write(f"    … {_('and')} {len(items) - 10:,} {_('more')}\n")


def subscriptions_left(step: StepId, subs: Sequence[SubscriptionRow]) -> list[SubscriptionRow]:
    """What step 2 (active or expired ones) or step 3 (disabled ones) still has to see go; step
    3's wait on the active ones is step 2's list."""
    if step == StepId.CANCEL_SUBSCRIPTIONS:
        wanted: tuple[SubscriptionPhase, ...] = (
            SubscriptionPhase.ACTIVE,
            SubscriptionPhase.EXPIRED,
        )
    elif step == StepId.DELETE_SUBSCRIPTIONS:
        wanted = (SubscriptionPhase.DISABLED,)
    else:
        return []
    return [s for s in subs if s.phase in wanted]


def print_status(
    states: dict[StepId, StepState],
    out: TextIO,
    *,
    json_mode: bool = False,
    subscriptions: Sequence[SubscriptionRow] = (),
) -> None:
    """Each step's state; steps 2 and 3 also list the subscriptions they wait on."""
    if json_mode:
        doc: dict[str, dict[str, Any]] = {}
        for s, v in states.items():
            doc[str(int(s))] = {
                "status": str(v.status),
                "summary": v.summary,
                "done": v.done,
                "total": v.total,
                "waiting_for": v.waiting_for,
                "waiting_until": v.waiting_until,
                "link": v.link,
                "blockers": list(v.blockers),
            }
            if s in (StepId.CANCEL_SUBSCRIPTIONS, StepId.DELETE_SUBSCRIPTIONS):
                doc[str(int(s))]["subscriptions"] = [
                    {
                        "id": sub.id,
                        **sub.product.to_json(),
                        "status": sub.status,
                        "phase": str(sub.phase),
                        "isTrial": sub.is_trial,
                        "nextLifecycleDateTime": sub.next_lifecycle,
                    }
                    for sub in subscriptions_left(s, subscriptions)
                ]
        out.write(json.dumps(doc, default=str, indent=2, ensure_ascii=False) + "\n")
        return
    for s, v in states.items():
        until = f" ({_('until')} {v.waiting_until:%Y-%m-%d %H:%M} UTC)" if v.waiting_until else ""
        out.write(f"{int(s)} {step_name(s):<36} {status_word(v.status):<16} {v.summary}{until}\n")
        for b in v.blockers:
            out.write(f"    - {b}\n")
        for sub in subscriptions_left(s, subscriptions):
            out.write(f"    · {subscription_label(sub)}: {phase_word(sub.phase)}\n")
