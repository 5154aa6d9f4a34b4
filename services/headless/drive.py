"""The headless run loop: assess, run the first step the options allow, hand off what needs
a person, wait and watch (unless ``--no-wait``), and end with an :class:`Outcome` and its
documented exit code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.control import RunControl, Waiting
from services.engine import Engine
from services.engine.state import FRESH
from services.errors import CloseoutError, Stopped
from services.exit_codes import ExitCode, exit_code_for
from services.i18n import _
from services.models import (
    StepId,
    StepState,
    StepStatus,
)
from services.steps import registry
from services.steps.last_resort import CONFIRM_WHAT as CONFIRM_ALL_SPS

from .heartbeat import HEARTBEAT, Heartbeat
from .report import Reporter

POLL_ANNOUNCE = 30.0
"""Seconds: a wait for the next read at least this long says what it waits for, until when."""


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
        if registry.finished(states, gone=engine.gone):
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
            if exit_code_for(exc) == ExitCode.AUTH:
                # Not this step's failure: the run lacks a permission or role (a 403), or a
                # freshly acquired token was refused (a 401): exit 5, whatever step met it.
                raise
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
