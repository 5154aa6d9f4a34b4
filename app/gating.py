"""Which of the main screen's keys may act now, from the step registry and the app's state.

The screen's ``check_action`` reads :func:`key_state` (the footer greys out what cannot act);
a key's action checks the same predicate again before it asks or runs anything. A greyed-out
key still answers: :func:`why_not` is the line the screen says when it is pressed, and
:func:`next_action` is what Enter on a step does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from services.i18n import _, ngettext
from services.models import StepState, StepStatus
from services.steps import load_registry

if TYPE_CHECKING:
    from services.models import StepId

    from .controller import Controller


def can_run(c: Controller, step: StepId | None) -> bool:
    """``r``: ``step`` may start now (the typed-domain step has a key of its own)."""
    if step is None or c.engine is None or c.step_running is not None:
        return False
    registry = load_registry()
    spec = registry.step(step)
    return not spec.typed_domain and registry.may_run(
        spec, c.step_states, read_only=c.options.read_only
    )


def can_delete_directory(c: Controller) -> bool:
    """``D``: the irreversible step may start (it asks for the typed domain)."""
    if c.engine is None or c.step_running is not None:
        return False
    registry = load_registry()
    return registry.may_run(registry.typed(), c.step_states, read_only=c.options.read_only)


def can_offer_last_resort(c: Controller) -> bool:
    """``X``: only once step 5 handed "Delete tenant" over, since the portal cannot have
    refused anything before that."""
    return c.engine is not None and c.step_running is None and c.engine.last_resort_available()


def key_state(c: Controller, action: str, selected: StepId | None) -> bool | None:
    """For ``check_action``: True acts, None greys the key out, False hides it."""
    running = c.step_running is not None
    if action == "run_step":
        return True if can_run(c, selected) else None
    if action == "delete_directory":
        return True if can_delete_directory(c) else None
    if action == "last_resort":
        return True if can_offer_last_resort(c) else None
    if action in ("pause", "stop"):
        return True if running else None
    if action == "handoff":
        return True if selected in c.handoffs else None
    if action == "manual":
        return True if c.engine is not None else None
    if action == "play_portal":
        # Sandbox only: there is no such key against a real tenant.
        return c.has_portal
    if action in ("refresh", "replan", "export", "keep", "keep_shown"):
        return None if running or c.engine is None else True
    return True


def _running_text(c: Controller) -> str:
    return _("Step {n} is running: wait for it, or s stops it.").format(n=int(c.step_running or 0))


def _waits_text(c: Controller, step: StepId) -> str | None:
    """Why ``step`` may not start yet, from the registry's order (None: nothing it waits for)."""
    registry = load_registry()
    spec = registry.step(step)
    if spec.plans:
        return None
    if c.options.read_only:
        return _("Read-only session: closeout changes nothing in the tenant.")
    states = c.step_states
    before = (
        []
        if states.get(registry.planning().id, StepState(step)).status == StepStatus.DONE
        else [registry.planning().id]
    )
    before += [d for d in spec.depends_on if states.get(d, StepState(d)).status != StepStatus.DONE]
    if before:
        return ngettext(
            "Step {n} waits for step {steps}.", "Step {n} waits for steps {steps}.", len(before)
        ).format(n=int(step), steps=", ".join(str(int(d)) for d in before))
    return None


def why_not(c: Controller, action: str, selected: StepId | None) -> str:
    """One line saying why a greyed-out key cannot act now (said when it is pressed)."""
    if c.engine is None:
        return _("Not connected yet.")
    if action in ("pause", "stop"):
        return _("No step is running.")
    if c.step_running is not None and action in (
        "run_step",
        "delete_directory",
        "last_resort",
        "refresh",
        "replan",
        "export",
        "keep",
        "keep_shown",
    ):
        return _running_text(c)
    if action == "handoff":
        return _("Step {n} waits for nothing in a portal now.").format(n=int(selected or 0))
    if action == "last_resort":
        return _("X is for step 5 only, once the portal refused Delete tenant.")
    registry = load_registry()
    if action == "run_step" and selected is not None and registry.step(selected).typed_domain:
        return _("Step {n} deletes the directory: its key is D.").format(n=int(selected))
    step = registry.typed().id if action == "delete_directory" else selected
    if step is None:
        return _("Select a step first.")
    return _why_step(c, step)


def _why_step(c: Controller, step: StepId) -> str:
    registry = load_registry()
    spec = registry.step(step)
    st = c.step_states.get(step) or StepState(step)
    if spec.run is None:
        return _("Step {n} is done in the admin center: h shows how.").format(n=int(step))
    waits = _waits_text(c, step)
    if waits:
        return waits
    if st.status == StepStatus.DONE:
        return _("Step {n} is done.").format(n=int(step))
    assert c.engine is not None
    # Before "waits": what step 5 waits on until they are ticked is these checks.
    if spec.manual_checks and not set(spec.manual_checks) <= c.engine.ticks():
        return _("Step {n}: tick the manual checks first — m.").format(n=int(step))
    if st.status.waiting:
        return _("Step {n} waits: h shows for what.").format(n=int(step))
    if st.blockers:
        return _("Step {n}: {blocker}").format(n=int(step), blocker=st.blockers[0])
    return _("Step {n} cannot start now: {summary}").format(n=int(step), summary=st.summary)


def next_action(c: Controller, step: StepId) -> str | None:
    """Enter on ``step``: the main screen's action that is its next thing (None: nothing can
    act now, :func:`why_not` says why)."""
    spec = load_registry().step(step)
    st = c.step_states.get(step) or StepState(step)
    if spec.typed_domain:
        # Step 5 waits on the admin for its manual checks before anything in a portal:
        # until they are ticked, they are its next thing.
        if can_delete_directory(c):
            return "delete_directory"
        if (
            c.engine is not None
            and c.step_running is None
            and _waits_text(c, step) is None
            and not set(spec.manual_checks) <= c.engine.ticks()
        ):
            return "manual"
    if st.status.waiting and step in c.handoffs:
        return "handoff"
    if not spec.typed_domain and can_run(c, step):
        return "run_step"
    if step in c.handoffs:
        return "handoff"
    return None
