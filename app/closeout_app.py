"""The closeout Textual app: workers and lifecycle. It implements
:class:`~app.controller.Controller`, which is all the screens know of it.

It keeps the session, the engine and the steps' states as the engine reports them; the main
screen shows them, the sign-in screen signs in. Workers (one group each,
``exit_on_error=False``, errors routed to the log and a notification): ``auth`` (the sign-in
screen's) signs in and connects, ``step`` runs one step (stoppable between batches), ``watch``
re-reads Graph while nothing runs, ``misc`` exports and plays the sandbox portal. Results reach
the screen as messages and, for the many small ones, through the bridge's flush timer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.driver import Driver
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from services.control import RunControl
from services.errors import CloseoutError, LongWait, Stopped
from services.exit_codes import ExitCode, exit_code_for_steps
from services.i18n import _
from services.models import Handoff, StepId, StepState, StepStatus
from services.steps import load_registry

from . import terminal
from .bridge import EngineBridge
from .messages import (
    Connected,
    HandoffChanged,
    InventoryLoaded,
    ProgressChanged,
    StepFinished,
    StepResult,
    StepStateChanged,
)
from .screens.dialogs import STOP_GUARD_ID, quit_guard, stop_guard
from .screens.help import HelpScreen
from .screens.main_screen import MainScreen
from .screens.sign_in import SignInScreen
from .step_book import StepBook
from .texts import connect_summary, read_only_notice

if TYPE_CHECKING:
    # The engine, the session and what they load (HTTP, msal) are imported by the sign-in
    # worker: the app's module loads only what its first screen needs.
    from services.engine import Engine
    from services.sandbox.portal import PortalPlayer
    from services.session import Session, SessionOptions

log = logging.getLogger("closeout.app")

FLUSH_SECONDS = 0.1


class CloseoutApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "closeout"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", _("Quit"), show=False, priority=True, id="app-quit"),
        # Before any widget's own Ctrl-C (an input's copy) while a step runs: a reflexive
        # Ctrl-C must stop the run, not only show a toast while batches keep going. When
        # nothing runs, check_action lets the key through: an input's copy, else the screen's
        # own Ctrl-C (quit, on the main and sign-in screens).
        Binding("ctrl+c", "interrupt", _("Stop"), show=False, priority=True, id="interrupt"),
    ]

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

    # -- start --------------------------------------------------------------------------------

    def on_mount(self) -> None:
        # The first paint is the sign-in screen alone (before sign-in its badge already says
        # what closeout is about to connect to); the main screen, most of the app's widgets,
        # is built after it (on_ready). Installed, so that it can be taken off and put back.
        self.sign_in = SignInScreen(self)
        self.install_screen(self.sign_in, name="sign-in")
        self.push_screen("sign-in")
        # Not named _flush: App._flush(stderr=...) is what Textual's stdout/stderr capture
        # calls, from whichever thread printed.
        self.set_interval(FLUSH_SECONDS, self._flush_bridge)
        self.set_interval(0.5, self._check_hangup)

    def on_ready(self) -> None:
        # The sign-in screen is on the terminal: now the main screen goes beneath it (one
        # frame: nothing in between is painted), and sign-in starts, whose worker would
        # otherwise compete with the first paint for the interpreter.
        self.switch_screen(MainScreen(self))
        self.push_screen("sign-in")
        self.sign_in.start()

    def open_session(self) -> Session:
        if self.session is None:
            if self._session_factory is None:
                from services.session import Session

                self._session_factory = Session
            self.session = self._session_factory(self.options)
            # From here on every wait of the session's Graph client is in the log.
            self.session.control.add_wait_listener(self.bridge.waiting)
            if self._hangup:
                self.session.control.stop(self._terminal_lost or "hang-up")
        return self.session

    def connect(self, session: Session) -> None:
        engine = session.connect(sink=self.bridge.sink, on_call=self.bridge.on_call, command="tui")
        unfinished = engine.journal.unfinished() if engine.journal else None
        engine.refresh()
        engine.ensure_plan().digest()  # hashed once, here: not on the UI thread at connect
        engine.assess(refresh=False)
        if session.sandbox is not None:
            from services.sandbox.portal import PortalPlayer

            self.portal = PortalPlayer(session.sandbox, engine)
        self.engine = engine
        self.post_message(
            Connected(
                unfinished.run_id if unfinished else None,
                len(unfinished.pending) if unfinished else 0,
            )
        )

    def connect_failed(self, code: ExitCode) -> None:
        self._failure = code

    def on_connected(self, message: Connected) -> None:
        if isinstance(self.screen, SignInScreen):
            self.pop_screen()
        engine = self.engine
        assert engine is not None
        self._failure = None
        self.book.fill(load_registry().ids())
        self.bridge.note("info", connect_summary(engine.plan, engine.inventory))
        for text in engine.journal_warnings():
            self.bridge.note("warning", text)
            self.notify(text, title=_("Damaged journal"), severity="warning", timeout=15)
        if not engine.recording:
            self.bridge.note("warning", read_only_notice())
            self.notify(read_only_notice(), title=_("Read-only"), timeout=10)
        self.main.show_connected(engine)
        if self.watch_enabled:
            self.set_interval(engine.options.poll_interval, self._tick_watch)
        if message.unfinished_run and engine.recording:
            self.main.offer_resume(message.unfinished_run, message.pending)
        else:
            self.begin_run(None)

    def begin_run(self, resumed: str | None) -> None:
        if self.engine is not None and not self.engine.run_id:
            keep = list(self.options.keep)
            record = {"resumed": resumed, "read_only": self.options.read_only, "keep": keep}
            self.engine.begin("tui", record)

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

    # -- engine → UI ---------------------------------------------------------------------------

    def on_step_state_changed(self, message: StepStateChanged) -> None:
        st = message.state
        self.book.report(st)
        self.main.show_steps(changed=st.step)
        done = st.step == StepId.DELETE_DIRECTORY and st.status == StepStatus.DONE
        if done and self.engine is not None and self.engine.gone:
            self.notify(_("The tenant is deleted. The close-out is complete."), timeout=10)

    def on_progress_changed(self, message: ProgressChanged) -> None:
        self.main.show_progress(message.progress)
        if self.book.advance(message.progress):
            self.main.show_steps()

    def on_handoff_changed(self, message: HandoffChanged) -> None:
        self.book.handoffs[message.handoff.step] = message.handoff
        self.main.show_handoff_changed(message.handoff)

    def on_inventory_loaded(self, message: InventoryLoaded) -> None:
        self.main.load_inventory(message.inventory)

    def _flush_bridge(self) -> None:
        if not self.is_running:
            # Textual's teardown has begun and is removing the widgets; a timer may still fire
            # in between (when the app is closed without exit(), as run_test does).
            return
        pending = self.bridge.take()
        if pending.lines or pending.marks:
            self.main.apply(pending)

    # -- steps ---------------------------------------------------------------------------------

    def run_step(
        self, step: StepId, confirm_domain: str | None = None, *, last_resort: bool = False
    ) -> None:
        if self.step_running is not None or self.engine is None:
            return
        # The step's own control (s stops the step), stopped too when the session is.
        self.control = self.session.control.child() if self.session else RunControl()
        self.step_running = step
        self.main.step_started()
        self._step_worker(step, confirm_domain, self.control, last_resort)

    @work(thread=True, group="step", exclusive=True, exit_on_error=False, name="step")
    def _step_worker(
        self, step: StepId, confirm_domain: str | None, control: RunControl, last_resort: bool
    ) -> None:
        assert self.engine is not None
        try:
            if last_resort:
                state = self.engine.remove_all_service_principals(confirm_domain, control=control)
            else:
                state = self.engine.run_step(step, confirm_domain=confirm_domain, control=control)
            self.post_message(StepFinished(StepResult(step, state)))
        except LongWait as exc:
            # A wait, not a failure: the step shows what it waits for and until when.
            self.graph_wait_until = exc.waiting.until
            before = self.step_states[step]
            waiting = replace(
                before,
                status=StepStatus.WAITING_TIME,
                waiting_for=exc.waiting.text(),
                waiting_until=exc.waiting.until,
            )
            self.post_message(StepStateChanged(waiting))
            self.post_message(StepFinished(StepResult(step, waiting, exc.message, exc.hint)))
        except CloseoutError as exc:
            self.post_message(StepFinished(StepResult(step, None, exc.message, exc.hint)))

    def on_step_finished(self, message: StepFinished) -> None:
        self.step_running = None
        if self.control is not None:
            self.control.detach()
        self.control = None
        self._flush_bridge()
        self.main.step_finished(message.result)

    def toggle_pause(self) -> bool:
        if self.control is not None:
            if self.control.paused:
                self.control.resume()
            else:
                self.control.pause()
        return self.control is not None and self.control.paused

    def stop_step(self) -> None:
        if self.control is not None:
            self.control.stop()
            self.main.write_log("warning", _("Stopping after the batches in flight…"))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "interrupt":
            return self.step_running is not None
        return True

    def action_interrupt(self) -> None:
        """Ctrl-C while a step runs: the first asks "Stop after the current batch?", a second
        (with the question still shown) stops at once, between batches."""
        if self.control is None:
            return
        if self.control.stopped:
            self.notify(_("Stopping after the batches in flight…"), timeout=3)
        elif self.screen.id == STOP_GUARD_ID:
            self.screen.dismiss(True)
        else:
            self.push_screen(stop_guard(), lambda ok: self.stop_step() if ok else None)

    def start_refresh(self) -> None:
        if self.engine is not None and self.step_running is None:
            self._refresh_worker()

    def _tick_watch(self) -> None:
        if self.graph_wait_until is not None:
            if datetime.now(UTC) < self.graph_wait_until:
                return
            self.graph_wait_until = None
        if self.step_running is None and self.engine is not None and not self.engine.gone:
            self._refresh_worker()

    @work(thread=True, group="watch", exclusive=True, exit_on_error=False, name="watch")
    def _refresh_worker(self) -> None:
        if self.engine is None:
            return
        try:
            self.engine.assess(refresh=True)
        except LongWait as exc:
            # The watch pauses until then; a refresh (g) may try earlier.
            self.graph_wait_until = exc.waiting.until
            self.bridge.note("warning", exc.waiting.text())
            self.notify(
                f"{exc.message}\n{exc.hint or ''}".strip(),
                title=_("Waiting on Graph"),
                severity="warning",
                timeout=15,
            )
        except Stopped:
            log.info("a read was stopped: the app is leaving")

    def replan(self) -> None:
        if self.engine is not None and self.step_running is None:
            self.run_step(load_registry().planning().id)

    def save_manual_checks(self, ticked: set[str]) -> None:
        if self.engine is None:
            return
        for key in load_registry().manual_checks():
            if key in ticked:
                self.engine.tick(key)
            else:
                self.engine.untick(key)
        self.start_refresh()

    def play_portal(self, step: StepId | None) -> None:
        if self.portal is not None:
            self._portal_worker(self.portal, int(step) if step is not None else 0)

    @work(thread=True, group="misc", exit_on_error=False, name="portal")
    def _portal_worker(self, portal: PortalPlayer, step: int) -> None:
        lines = portal.play(step) if step in (2, 3, 5) else portal.play_all()
        for line in lines or [_("Nothing to do in the admin center for this step.")]:
            self.bridge.line("info", f"[sandbox admin center] {line}")
        if self.engine is not None:
            self.engine.assess(refresh=True)

    def export_evidence(self) -> None:
        if self.engine is not None:
            self._export_worker(self.engine)

    @work(thread=True, group="misc", exit_on_error=False, name="export")
    def _export_worker(self, engine: Engine) -> None:
        path = engine.write_evidence(all_runs=True)
        self.bridge.line("info", _("Evidence pack written to {path}").format(path=path))
        self.notify(_("Evidence pack: {path}").format(path=path), timeout=8)

    # -- errors, quitting, lost terminals ----------------------------------------------------------

    @on(Worker.StateChanged)
    def _on_worker_state(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        text = f"{event.worker.name}: {type(error).__name__}: {error}"
        log.error("worker failed", exc_info=error)
        if event.worker.group == "step":
            step = self.step_running or load_registry().ids()[0]
            error_text = _("The step stopped on an unexpected error.")
            self.post_message(StepFinished(StepResult(step, None, error_text, text)))
        try:
            self.main.write_log("error", text)
        except (RuntimeError, NoMatches):  # the main screen is being torn down
            log.debug("no log panel")
        self.notify(text, severity="error", timeout=10)

    async def action_quit(self) -> None:
        await self.request_quit()

    async def request_quit(self) -> None:
        if self.step_running is None:
            await self._leave()
            return
        self.push_screen(quit_guard(), self._on_quit_answer)

    def _on_quit_answer(self, ok: bool | None) -> None:
        if ok:
            self.stop_step()
            self.run_worker(self._leave_after_step(), group="shutdown", exit_on_error=False)

    async def _leave_after_step(self) -> None:
        steps = [w for w in self.workers if w.group == "step" and not w.is_finished]
        # The step may have ended while the question was shown. An empty list would make
        # wait_for_complete wait for every worker, this one included: a DeadlockError.
        if steps:
            await self.workers.wait_for_complete(steps)
        await self._leave()

    async def _leave(self) -> None:
        # Not named _shutdown: that is App's own teardown (unmount, driver close, printing a
        # crash's traceback), which Textual awaits after exit() and must not be replaced.
        if self._quitting:
            return
        self._quitting = True
        for worker in self.workers:
            if worker.group in ("watch", "auth"):
                worker.cancel()
        code = self.closeout_code
        if self.engine is not None and self.engine.run_id:
            try:
                self.engine.finish(code)
            except Exception:  # leaving must not fail; the journal stays readable
                log.exception("finishing the run failed")
        # return_code too: Textual leaves it 0 unless told, and sets 1 only for a crash.
        self.exit(code, return_code=code)

    def hang_up(self, reason: str = "SIGHUP") -> None:
        """The terminal is gone, or SIGTERM: stop between batches, end the run, exit 3.

        Any thread, or a signal handler: it only sets flags and stops the run controls (which
        wakes every wait at once); the timer tick does the rest on the event loop."""
        self._hangup = True
        if self.control is not None:
            self.control.stop(reason)
        if self.session is not None:
            self.session.control.stop(reason)

    def terminal_lost(self, reason: str) -> None:
        """The terminal went away (SIGHUP, POLLHUP, a failed write): silence it, stop reading
        it, and hang up. Any thread; the first call counts."""
        if self._terminal_lost is not None:
            return
        self._terminal_lost = reason
        log.warning("terminal lost (%s): stopping between batches", reason)
        driver = self._driver
        stop_input = getattr(driver, "stop_input", None)
        if stop_input is not None:
            stop_input()
        terminal.silence()
        self.hang_up(reason)

    def get_driver_class(self) -> type[Driver]:
        """Textual's Linux driver with an output that reports a dead terminal instead of
        dying on it (see :mod:`app.terminal`); other drivers as Textual chooses them."""
        base = super().get_driver_class()
        if base.__name__ != "LinuxDriver":
            return base
        return terminal.guarded_driver(
            base, lambda app, exc: app.terminal_lost(exc.strerror or type(exc).__name__)
        )

    def _check_hangup(self) -> None:
        if self._hangup and self.step_running is None:
            self._hangup = False
            self.run_worker(self._leave(), group="shutdown", exit_on_error=False)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # No "quit as soon as possible": quitting goes through the guard.
        for command in super().get_system_commands(screen):
            if command.title.lower().startswith("quit"):
                continue
            yield command
        if isinstance(screen, MainScreen):
            # Every key of the main screen, with its key (Quit and Help among them).
            for title, help_text, action in screen.palette_commands():
                yield SystemCommand(title, help_text, partial(screen.do_action, action))
            return
        yield SystemCommand(
            _("Quit"), _("Quit closeout (asks first while a step runs)"), self.action_quit
        )
        yield SystemCommand(
            _("Help"), _("Keys and what each step does"), lambda: self.push_screen(HelpScreen())
        )
        yield SystemCommand(
            _("Export evidence"), _("Write the evidence pack"), self.export_evidence
        )
        yield SystemCommand(_("Refresh"), _("Re-read the tenant from Graph"), self.start_refresh)
