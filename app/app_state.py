"""What the app knows, for the screens to read through :class:`~app.controller.Controller`:
the options, the session and engine once connected, the steps' states (:class:`StepBook`), the
running step and its control, and the exit code quitting now would give. Also the flush of
the bridge's buffered outcomes and log lines onto the main screen.

The base of the app's classes (:mod:`app.step_runs`, :mod:`app.leaving`,
:mod:`app.closeout_app`), each of which adds one job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from textual.app import App
from textual.notifications import SeverityLevel

from services.control import RunControl
from services.exit_codes import ExitCode, exit_code_for_steps
from services.models import Handoff, ProgressUpdated, StepId, StepState

from .bridge import EngineBridge
from .screens.main_screen import MainScreen
from .step_book import StepBook

if TYPE_CHECKING:
    # The engine, the session and what they load (HTTP, msal) are imported by the sign-in
    # worker: the app's module loads only what its first screen needs.
    from services.engine import Engine
    from services.notify import News, NotifyTarget
    from services.sandbox.portal import PortalPlayer
    from services.session import Session, SessionOptions


class AppState(App[int]):
    def __init__(
        self,
        options: SessionOptions,
        *,
        session_factory: Callable[[SessionOptions], Session] | None = None,
        watch: bool = True,
    ) -> None:
        super().__init__()
        self.options = options
        self._session_factory = session_factory
        self.watch_enabled = watch
        self.session: Session | None = None
        self.engine: Engine | None = None
        self.portal: PortalPlayer | None = None
        self.bridge = EngineBridge(self.post_message)
        self.book = StepBook()
        # What the controller shows the screens: the book's own maps, read-only.
        self.step_states: Mapping[StepId, StepState] = self.book.states
        self.handoffs: Mapping[StepId, Handoff] = self.book.handoffs
        self.step_running: StepId | None = None
        self.control: RunControl | None = None
        self._failure: ExitCode | None = None
        self._hangup = False
        self._terminal_lost: str | None = None
        self.graph_wait_until: datetime | None = None
        """Graph asked for a wait longer than closeout sleeps through: no watch read before."""
        self._quitting = False
        self.relaunch = "closeout"
        """The command that starts this session again (said on quitting during a wait)."""
        self.goodbye = ""
        self.notify_target: NotifyTarget | None = None
        """``--notify``: where news goes besides the terminal bell."""
        self.news: News | None = None
        self._completed = False
        """The tenant was found gone and the completion view is on its way (once)."""
        self.bells = 0
        """How often the terminal bell rang for news (a wait ended, a handoff, a failure)."""
        """What quitting said on the terminal: the waits that go on without closeout."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast, its message always shown as typed (``markup`` is ignored).

        Textual reads a toast's message as markup by default, and the screens' ``notify``
        passes that default on. Toasts carry Graph's words (an error, a product or an app named
        in news of a handoff): a name such as "[red]x[/]" would lose its brackets, "[/]" alone
        would make the toast raise, "[@click=app.quit]" would become an action link. No toast
        of closeout's own uses markup; this is the one place all of them pass.
        """
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # -- state for the screens -----------------------------------------------------------------

    @property
    def main(self) -> MainScreen:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        raise RuntimeError("main screen not installed")

    @property
    def has_portal(self) -> bool:
        return self.portal is not None

    def run_view(self, step: StepId) -> ProgressUpdated:
        return self.book.run_view(step)

    def server_now(self) -> datetime | None:
        return self.engine.client.server_time() if self.engine else None

    @property
    def closeout_code(self) -> ExitCode:
        """What quitting now exits with: a failed sign-in's code, else what the steps say
        (as ``closeout status`` would)."""
        if self._failure is not None:
            return self._failure
        if self.engine is None:
            return ExitCode.WAITING
        return exit_code_for_steps(self.step_states, gone=self.engine.gone)

    def _flush_bridge(self) -> None:
        if not self.is_running:
            # Textual's teardown has begun and is removing the widgets; a timer may still fire
            # in between (when the app is closed without exit(), as run_test does).
            return
        pending = self.bridge.take()
        # One take, one model: the counts and the row marks shown together are of one moment.
        self.book.take(pending.live, pending.progress)
        if pending.lines or pending.marks or pending.live or pending.progress:
            self.main.apply(pending)
