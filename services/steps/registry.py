"""The steps, in the article's order: the one list everything else reads.

Microsoft's "Close your account" has five steps; closeout adds step 0, "before you begin". The
engine assesses them in this order and dispatches ``run`` through it, the headless runner acts
and waits by it, the app gates its keys by it, and the checklist and the help list it. Adding a
step is one new module that exports a :class:`~services.steps.step.Step` plus its entry here
(and its number in :class:`~services.models.StepId`, which journals and JSON keep).

Consumers read :data:`STEPS` through this module at call time (``registry.STEPS``), never a
copy taken at import, so that the order given here is the order everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.models import StepId, StepState, StepStatus

from . import delete_directory, mfa, prepare, subscriptions, users
from .step import Step

STEPS: tuple[Step, ...] = (
    prepare.PREPARE,
    users.DELETE_USERS,
    subscriptions.CANCEL_SUBSCRIPTIONS,
    subscriptions.DELETE_SUBSCRIPTIONS,
    mfa.DISABLE_MFA,
    delete_directory.DELETE_DIRECTORY,
)


def step(step_id: StepId) -> Step:
    """The registry's entry for ``step_id``."""
    for s in STEPS:
        if s.id == step_id:
            return s
    raise KeyError(step_id)


def ids() -> tuple[StepId, ...]:
    return tuple(s.id for s in STEPS)


def planning() -> Step:
    """The step that reads the tenant and makes the plan; every other step waits for it."""
    return next(s for s in STEPS if s.plans)


def typed() -> Step:
    """The irreversible step: it runs only after the initial domain is typed."""
    return next(s for s in STEPS if s.typed_domain)


def finished(states: Mapping[StepId, StepState], *, gone: bool) -> bool:
    """Whether the close-out is over: the tenant is gone, or the last step is done."""
    last = states.get(STEPS[-1].id)
    return gone or (last is not None and last.status == StepStatus.DONE)


def manual_checks() -> dict[str, tuple[str, str]]:
    """Every check no API can make, from every step that has some: key → (what, where)."""
    checks: dict[str, tuple[str, str]] = {}
    for s in STEPS:
        checks.update(s.manual_checks)
    return checks


def may_run(s: Step, states: Mapping[StepId, StepState], *, read_only: bool) -> bool:
    """Whether ``s`` may be started now: the same rule for the TUI's keys and its requests.

    A read-only session may only re-read and re-plan. Otherwise a step that an API runs may
    start while it is pending (or failed, to try again), once the planning step is done and
    every step it depends on is.
    """
    if s.run is None:
        return False
    if s.plans:
        return True
    if read_only:
        return False

    def status(step_id: StepId) -> StepStatus:
        return states.get(step_id, StepState(step_id)).status

    return (
        status(s.id) in (StepStatus.PENDING, StepStatus.FAILED)
        and status(planning().id) == StepStatus.DONE
        and all(status(d) == StepStatus.DONE for d in s.depends_on)
    )


def stuck_for_good(states: Mapping[StepId, StepState]) -> list[StepId]:
    """Blocked steps that no wait unblocks: every step they wait for is done or itself stuck."""
    stuck: list[StepId] = []
    for s in STEPS:
        st = states.get(s.id)
        if st is None or st.status != StepStatus.BLOCKED:
            continue
        if all(states[d].status == StepStatus.DONE or d in stuck for d in s.depends_on):
            stuck.append(s.id)
    return stuck
