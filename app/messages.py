"""Messages from background workers to the UI: typed, past tense, posted (thread-safe).

Dataclasses, as Textual's own messages are (``Message.__post_init__`` does the rest); compared
by identity, as plain messages are. The sign-in worker's messages go to the sign-in screen;
the engine's (through :class:`app.bridge.EngineBridge`) and ``Connected`` go to the app.

High-rate news is not a message at all: log lines, per-object outcomes and the running step's
counts and pace go through the bridge's buffers and are flushed together on a timer, so no
line is ever dropped, the UI never gets one call per object, and the counts shown always
match the rows marked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from services.models import Handoff, InventoryRefreshed, StepId, StepState

if TYPE_CHECKING:
    from pathlib import Path

    from app.completion import Completion
    from app.since_left import Away, Resumable
    from services.auth.device_code import DeviceCodePrompt
    from services.exit_codes import ExitCode


@dataclass(eq=False)
class DeviceCodeShown(Message):
    prompt: DeviceCodePrompt


@dataclass(eq=False)
class SignedIn(Message):
    pass


@dataclass(eq=False)
class SignInFailed(Message):
    """Signing in or connecting failed; ``code`` is what quitting now exits with."""

    message: str
    hint: str | None
    code: ExitCode


@dataclass(eq=False)
class Connected(Message):
    """The engine is ready: caller identified, plan loaded or made, first assessment done.
    ``resume``: the journal's unfinished run; else ``away``: the news of a start after a
    clean quit."""

    resume: Resumable | None = None
    away: Away | None = None


@dataclass(eq=False)
class StepStateChanged(Message):
    state: StepState


@dataclass(eq=False)
class HandoffChanged(Message):
    handoff: Handoff


@dataclass(eq=False)
class InventoryLoaded(Message):
    inventory: InventoryRefreshed


@dataclass(frozen=True)
class StepResult:
    step: StepId
    state: StepState | None
    error: str | None = None
    hint: str | None = None
    stopped: bool = False
    """Stopped on request (s, Ctrl-C, quitting): not an error."""


@dataclass(eq=False)
class StepFinished(Message):
    result: StepResult


@dataclass(eq=False)
class EvidenceWritten(Message):
    path: Path


@dataclass(eq=False)
class Completed(Message):
    """The tenant is gone and the evidence pack is written: the completion view's words."""

    completion: Completion
