"""Which of the main screen's keys may act now, from the step registry and the app's state.

The screen's ``check_action`` reads :func:`key_state` (the footer greys out what cannot act);
a key's action checks the same predicate again before it asks or runs anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    if action in ("refresh", "replan", "export"):
        return None if running or c.engine is None else True
    return True
