"""Messages from background workers to the UI: typed, past tense, posted (thread-safe).

High-rate progress is coalescable (``can_replace``); log lines and per-object outcomes are not
messages at all: they go through :class:`app.bridge.EngineBridge`'s buffers and are flushed in
batches on a timer, so no line is ever dropped and the UI never gets one call per object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from services.models import Handoff, InventoryRefreshed, ProgressUpdated, StepId, StepState

if TYPE_CHECKING:
    from services.auth.device_code import DeviceCodePrompt
    from services.exit_codes import ExitCode


class DeviceCodeShown(Message):
    def __init__(self, prompt: DeviceCodePrompt) -> None:
        super().__init__()
        self.prompt = prompt


class SignedIn(Message):
    pass


class SignInFailed(Message):
    """Signing in or connecting failed; ``code`` is what quitting now exits with."""

    def __init__(self, message: str, hint: str | None, code: ExitCode) -> None:
        super().__init__()
        self.message = message
        self.hint = hint
        self.code = code


class Connected(Message):
    """The engine is ready: caller identified, plan loaded or made, first assessment done."""

    def __init__(self, unfinished_run: str | None, pending: int) -> None:
        super().__init__()
        self.unfinished_run = unfinished_run
        self.pending = pending


class StepStateChanged(Message):
    def __init__(self, state: StepState) -> None:
        super().__init__()
        self.state = state


class ProgressChanged(Message):
    def __init__(self, progress: ProgressUpdated) -> None:
        super().__init__()
        self.progress = progress

    def can_replace(self, message: Message) -> bool:
        # Only the latest count matters; never used for log lines or outcomes.
        return isinstance(message, ProgressChanged) and message.progress.step == self.progress.step


class HandoffChanged(Message):
    def __init__(self, handoff: Handoff) -> None:
        super().__init__()
        self.handoff = handoff


class InventoryLoaded(Message):
    def __init__(self, inventory: InventoryRefreshed) -> None:
        super().__init__()
        self.inventory = inventory


@dataclass(frozen=True)
class StepResult:
    step: StepId
    state: StepState | None
    error: str | None = None
    hint: str | None = None


class StepFinished(Message):
    def __init__(self, result: StepResult) -> None:
        super().__init__()
        self.result = result
