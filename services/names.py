"""The words for the step model: the article's step names, the status words and the words for
a subscription's phase.

One place for the headless CLI, the TUI's checklist and its detail pane (UI-free; widgets may
import it as they import ``services.models``).
"""

from __future__ import annotations

from .i18n import N_, _
from .models import StepId, StepStatus, SubscriptionPhase

STEP_NAMES = {
    StepId.PREPARE: N_("Before you begin"),
    StepId.DELETE_USERS: N_("Delete users"),
    StepId.CANCEL_SUBSCRIPTIONS: N_("Cancel active subscriptions"),
    StepId.DELETE_SUBSCRIPTIONS: N_("Delete disabled subscriptions"),
    StepId.DISABLE_MFA: N_("Disable multifactor authentication"),
    StepId.DELETE_DIRECTORY: N_("Delete the directory"),
}
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
    return _(STEP_NAMES[step])


def status_word(status: StepStatus) -> str:
    return _(STATUS_WORDS[status])


def phase_word(phase: SubscriptionPhase) -> str:
    """A subscription's lifecycle phase as closeout reads Graph's status."""
    return _(PHASE_WORDS[phase])
