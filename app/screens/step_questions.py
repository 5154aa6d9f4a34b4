"""What a step asks before the app runs anything: the count and consequence to confirm, step 5's
typed domain, the last resort's own typed domain, the manual checks no API can make, and
whether to resume an unfinished run.

Each question is a modal pushed on the app, and its answer goes to the controller; nothing is
run unasked. The main screen's keys (and Enter on a step) call these; they keep no state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from app import gating
from services.i18n import _
from services.models import StepId, StepStatus
from services.steps import load_registry

from .dialogs import ConfirmModal, ManualChecksModal, TypedConfirmModal

if TYPE_CHECKING:
    from textual.app import App

    from app.controller import Controller
    from app.since_left import Resumable


def ask_to_run(app: App[Any], c: Controller, step: StepId) -> None:
    """Run ``step`` once the admin confirms what it changes (at once if it changes nothing)."""
    if c.engine is None or not gating.can_run(c, step):
        return
    # The app's own copy of the state counts further than the last read while a step runs.
    ask = c.engine.confirmation(step, c.step_states[step])
    if ask is None:  # it changes nothing in the tenant: nothing to ask
        c.run_step(step)
        return
    app.push_screen(
        ConfirmModal(ask.title, "\n".join(ask.body), confirm_label=ask.confirm_label, id="confirm"),
        lambda ok: c.run_step(step) if ok else None,
    )


def ask_to_delete_directory(app: App[Any], c: Controller) -> None:
    """Step 5, behind the tenant's initial domain typed exactly."""
    if c.engine is None or not gating.can_delete_directory(c):
        return
    spec = load_registry().typed()
    domain = c.engine.caller.tenant.initial_domain
    ask = c.engine.confirmation(spec.id, c.step_states[spec.id])
    app.push_screen(
        TypedConfirmModal(
            domain,
            list(ask.body) if ask else [],
            title=ask.title if ask else None,
            action=ask.confirm_label if ask else None,
        ),
        lambda ok: c.run_step(spec.id, domain) if ok else None,
    )


def ask_last_resort(app: App[Any], c: Controller) -> None:
    """The admin says the portal refused "Delete tenant": DELTEN's last resort, behind its
    own typed confirmation."""
    if c.engine is None or not gating.can_offer_last_resort(c):
        return
    step = load_registry().typed().id
    domain = c.engine.caller.tenant.initial_domain
    app.push_screen(
        TypedConfirmModal(
            domain,
            c.engine.last_resort_consequences(),
            title=_("The portal refused Delete tenant: remove every service principal?"),
            action=_("Delete and disable"),
            id="last-resort-confirm",
        ),
        lambda ok: c.run_step(step, domain, last_resort=True) if ok else None,
    )


def ask_manual_checks(app: App[Any], c: Controller) -> None:
    """The checks no API can make, ticked by the admin and saved."""
    if c.engine is None:
        return
    app.push_screen(
        ManualChecksModal(
            load_registry().manual_checks(), c.engine.ticks(), recorded=c.engine.recording
        ),
        lambda ticked: c.save_manual_checks(ticked) if ticked is not None else None,
    )


def ask_to_resume(app: App[Any], resume: Resumable, answered: Callable[[str | None], None]) -> None:
    """The journal shows a run that did not finish: ``answered`` gets its id to continue it,
    or None to begin a new one."""
    from app.since_left import resume_text

    run = resume.run_id
    ask = ConfirmModal(
        _("Resume the unfinished run?"),
        resume_text(resume),
        confirm_label=_("Resume"),
        danger=False,
        id="resume",
    )
    app.push_screen(ask, lambda yes: answered(run if yes else None))


def steps_to_resume(c: Controller) -> list[StepId]:
    """The steps a resumed run acts in, in order: never re-planning, never the typed-domain one
    unasked, only the ones still pending."""
    states = c.step_states
    return [
        s.id
        for s in load_registry().STEPS
        if s.by_api
        and not s.plans
        and not s.typed_domain
        and states[s.id].status == StepStatus.PENDING
    ]
