"""What a screen may ask of the app: the engine's state, read-only, and the commands behind its
keys. The app implements it; screens are given it when they are made and never import the app
class, so the dependency runs one way (app → screens) and no screen needs a cast.

Everything here is called on the UI thread, except :meth:`Controller.open_session` and
:meth:`Controller.connect`, which the sign-in worker calls from its own thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from services.control import RunControl
    from services.engine import Engine
    from services.exit_codes import ExitCode
    from services.models import Handoff, ProgressUpdated, StepId, StepState
    from services.session import Session, SessionOptions


class Controller(Protocol):
    # -- state the screens read ------------------------------------------------------------------

    @property
    def options(self) -> SessionOptions: ...

    @property
    def engine(self) -> Engine | None:
        """Set once connected (never reset): the plan, the tenant, the confirmations."""

    @property
    def step_states(self) -> Mapping[StepId, StepState]:
        """Every step as last reported, counts moved on by the running step's progress."""

    @property
    def handoffs(self) -> Mapping[StepId, Handoff]: ...

    @property
    def step_running(self) -> StepId | None: ...

    @property
    def control(self) -> RunControl | None:
        """The running step's pause and stop."""

    @property
    def has_portal(self) -> bool:
        """A sandbox whose admin center closeout can play (the ``A`` key)."""

    def run_view(self, step: StepId) -> ProgressUpdated:
        """What the progress bar shows for ``step``, from the same book as the checklist."""

    def server_now(self) -> datetime | None:
        """Graph's clock: countdowns count to Graph's time, not this machine's."""

    # -- sign-in (called by the sign-in worker, on its thread) -----------------------------------

    def open_session(self) -> Session:
        """The app's session, made on first use (it may ask for a device code)."""

    def connect(self, session: Session) -> None:
        """Connect, read and assess the tenant; the app is told by a ``Connected`` message.
        Raises :class:`~services.errors.CloseoutError` when it cannot."""

    def connect_failed(self, code: ExitCode) -> None:
        """Sign-in or connecting failed: quitting now ends the process with ``code``."""

    # -- commands (the keys) ---------------------------------------------------------------------

    def begin_run(self, resumed: str | None) -> None:
        """Open the journal's run record (``resumed``: the unfinished run it continues)."""

    def run_step(
        self, step: StepId, confirm_domain: str | None = None, *, last_resort: bool = False
    ) -> None:
        """Run one step in a worker (the caller has asked whatever the step asks)."""

    def toggle_pause(self) -> bool:
        """Pause or resume the running step; whether it is paused now."""

    def stop_step(self) -> None: ...

    def start_refresh(self) -> None:
        """Re-read the tenant from Graph, unless a step runs."""

    def replan(self) -> None: ...

    def save_manual_checks(self, ticked: set[str]) -> None: ...

    def export_evidence(self) -> None: ...

    def play_portal(self, step: StepId | None) -> None:
        """Sandbox only: play the admin center's part of ``step`` (every step if ``None``)."""

    async def request_quit(self) -> None:
        """Quit, asking first while a step runs."""
