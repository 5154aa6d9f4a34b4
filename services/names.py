"""The words for the step model: the article's step names, the status words and the words for
a subscription's phase.

One place for the headless CLI, the TUI's checklist and its detail pane (UI-free; widgets may
import it as they import ``services.models``). The step names themselves are written in each
step's registry entry (:mod:`services.steps.registry`); this module translates them.
"""

from __future__ import annotations

from .i18n import N_, _
from .models import StepId, StepStatus, SubscriptionPhase
from .steps import load_registry

STATUS_WORDS = {
    StepStatus.PENDING: N_("pending"),
    StepStatus.RUNNING: N_("running"),
    StepStatus.WAITING_TIME: N_("waiting on time"),
    StepStatus.WAITING_PERSON: N_("waiting on you"),
    StepStatus.DONE: N_("done"),
    StepStatus.FAILED: N_("failed"),
    StepStatus.BLOCKED: N_("blocked"),
}

PHASE_WORDS = {
    SubscriptionPhase.ACTIVE: N_("active"),
    SubscriptionPhase.EXPIRED: N_("expired"),
    SubscriptionPhase.DISABLED: N_("disabled"),
    SubscriptionPhase.DELETED: N_("deleted"),
}


def step_name(step: StepId) -> str:
    """The article's name for a step, in the current language."""
    return _(load_registry().step(step).name)


def step_short_name(step: StepId) -> str:
    """A name of at most 11 cells for the narrow checklist, in the current language."""
    return _(load_registry().step(step).short_name)


def status_word(status: StepStatus) -> str:
    return _(STATUS_WORDS[status])


def phase_word(phase: SubscriptionPhase) -> str:
    """A subscription's lifecycle phase as closeout reads Graph's status."""
    return _(PHASE_WORDS[phase])
