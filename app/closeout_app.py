"""The closeout Textual app: wiring only. Workers drive the engine; messages and a flush timer
bring the results to the widgets; screens decide nothing on their own.

Workers (one group each, ``exit_on_error=False``, errors routed to the log and a notification):
``auth`` signs in and connects, ``step`` runs one step (stoppable between batches), ``watch``
re-reads Graph while nothing runs, ``misc`` exports and plays the sandbox portal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.worker import Worker, WorkerState, get_current_worker

from services.control import RunControl
from services.errors import CloseoutError
from services.exit_codes import ExitCode, exit_code_for
from services.heap import settle_after_load
from services.i18n import _
from services.models import Handoff, InventoryRefreshed, StepId, StepState, StepStatus
from services.steps import load_registry
from services.tenant_match import TenantMismatch
from widgets import (
    LogPanel,
    RemainingTable,
    RunProgress,
    StepChecklist,
    StepDetail,
    TenantHeader,
)

from .bridge import EngineBridge
from .messages import (
    Connected,
    ConnectFailed,
    DeviceCodeShown,
    HandoffChanged,
    InventoryLoaded,
    ProgressChanged,
    SignedIn,
    SignInFailed,
    StepFinished,
    StepResult,
    StepStateChanged,
)
from .screens.dialogs import ConfirmModal, ManualChecksModal, TypedConfirmModal
from .screens.handoff import HandoffScreen
from .screens.help import HelpScreen
from .screens.main_screen import MainScreen
from .screens.sign_in import SignInScreen
from .tables import app_rows, policy_rows, subscription_rows, user_rows
from .texts import connect_summary, read_only_notice, step_detail

if TYPE_CHECKING:
    # The engine, the session and what they load (HTTP, msal) are imported by the sign-in
    # worker: the app's module loads only what its first screen needs.
    from services.engine import Engine
    from services.session import Session, SessionOptions

log = logging.getLogger("closeout.app")

FLUSH_SECONDS = 0.1


class CloseoutApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "closeout"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", _("Quit"), show=False, priority=True, id="app-quit"),
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
        self.portal: Any = None
        self.bridge = EngineBridge(self.post_message)
        # Filled as the engine reports, and completed from the step registry on connecting:
        # the registry loads the step code and the Graph client, which the sign-in worker
        # imports; the UI thread must not before the first paint is on the terminal.
        self.step_states: dict[StepId, StepState] = {}
        self.handoffs: dict[StepId, Handoff] = {}
        self.step_running: StepId | None = None
        self.control: RunControl | None = None
        self.unfinished: str | None = None
        self.closeout_code: ExitCode = ExitCode.WAITING
        self._hangup = False
        self._quitting = False
        self._users_signature: object = None
        self._keys_refresh_pending = False
        self._keys_signature: object = None
        self._run_base: dict[StepId, int] = {}

    # -- start --------------------------------------------------------------------------------

    def on_mount(self) -> None:
        # The first paint is the sign-in screen alone (before sign-in its badge already says
        # what closeout is about to connect to); the main screen, most of the app's widgets,
        # is built after it (on_ready). Installed, so that it can be taken off and put back.
        self.install_screen(
            SignInScreen(sandbox=self.targets_sandbox, rehearsal=self.options.rehearse is not None),
            name="sign-in",
        )
        self.push_screen("sign-in")
        # Not named _flush: App._flush(stderr=...) is what Textual's stdout/stderr capture
        # calls, from whichever thread printed.
        self.set_interval(FLUSH_SECONDS, self._flush_bridge)
        self.set_interval(0.5, self._check_hangup)

    def on_ready(self) -> None:
        # The sign-in screen is on the terminal: now the main screen goes beneath it (one
        # frame: nothing in between is painted), and sign-in starts, whose worker would
        # otherwise compete with the first paint for the interpreter.
        self.switch_screen(MainScreen())
        self.push_screen("sign-in")
        self.start_sign_in()

    def start_sign_in(self) -> None:
        self._sign_in()

    @work(
        thread=True,
        group="auth",
        exclusive=True,
        exit_on_error=False,
        name="sign-in",
        description="Sign in and connect",
    )
    def _sign_in(self) -> None:
        worker = get_current_worker()
        try:
            if self.session is None:
                if self._session_factory is None:
                    from services.session import Session

                    self._session_factory = Session
                self.session = self._session_factory(self.options)
            session = self.session
            if session.needs_device_code:
                prompt = session.start_device_code()
                self.post_message(DeviceCodeShown(prompt))
                session.wait_device_code(prompt, worker.cancelled_event)
                if worker.is_cancelled:
                    return
                if not session.auth.signed_in:
                    self.post_message(
                        SignInFailed(_("The code expired before sign-in finished."), None)
                    )
                    return
            self.post_message(SignedIn())
        except CloseoutError as exc:
            self.post_message(SignInFailed(exc.message, exc.hint))
            return
        try:
            engine = session.connect(
                sink=self.bridge.sink, on_call=self.bridge.on_call, command="tui"
            )
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
        except CloseoutError as exc:
            # Quitting from here exits as headless would: 5 for a wrong tenant or a
            # rejected token.
            from services.deletion_evidence import TokenRejected

            if isinstance(exc, TenantMismatch | TokenRejected):
                self.closeout_code = exit_code_for(exc)
            self.post_message(ConnectFailed(exc.message, exc.hint))

    def on_device_code_shown(self, message: DeviceCodeShown) -> None:
        screen = self._sign_in_screen()
        if screen is not None:
            screen.show_prompt(message.prompt)

    def on_sign_in_failed(self, message: SignInFailed) -> None:
        screen = self._sign_in_screen()
        if screen is not None:
            screen.show_error(message.message, message.hint)

    def on_signed_in(self, message: SignedIn) -> None:
        screen = self._sign_in_screen()
        if screen is not None:
            screen.query_one("#sign-in-status").update(_("Signed in. Reading the tenant…"))  # type: ignore[attr-defined]

    def on_connect_failed(self, message: ConnectFailed) -> None:
        screen = self._sign_in_screen()
        if screen is not None:
            screen.show_error(message.message, message.hint)
        else:
            self.notify(message.message, severity="error")

    def on_connected(self, message: Connected) -> None:
        if isinstance(self.screen, SignInScreen):
            self.pop_screen()
        assert self.engine is not None
        self.step_states = {st.step: st for st in self._all_states()}
        self.main.query_one(StepChecklist).update_steps(self.step_states.values())
        self.main.query_one(TenantHeader).set_tenant(self.engine.caller.tenant)
        self.bridge.note("info", connect_summary(self.engine.plan, self.engine.inventory))
        for text in self.engine.journal_warnings():
            self.bridge.note("warning", text)
            self.notify(text, title=_("Damaged journal"), severity="warning", timeout=15)
        if not self.engine.recording:
            self.bridge.note("warning", read_only_notice())
            self.notify(read_only_notice(), title=_("Read-only"), timeout=10)
        if self.engine.inventory is not None:
            self._load_tables(self.engine.inventory.as_event(), force=True)
        self.unfinished = message.unfinished_run
        if self.watch_enabled:
            self.set_interval(self.engine.options.poll_interval, self._tick_watch)
        if message.unfinished_run and self.engine.recording:
            body = _(
                "The journal shows a run that did not finish ({run}); {n} actions were in flight. "
                "closeout has re-read the tenant, so nothing will be done twice. Resume it?"
            ).format(run=message.unfinished_run, n=message.pending)
            self.push_screen(
                ConfirmModal(
                    _("Resume the unfinished run?"),
                    body,
                    confirm_label=_("Resume"),
                    danger=False,
                    id="resume",
                ),
                self._on_resume_answer,
            )
        else:
            self._begin(None)
        self.show_step_detail(
            self.main.query_one(StepChecklist).selected or load_registry().ids()[0]
        )

    def _on_resume_answer(self, resume: bool | None) -> None:
        self._begin(self.unfinished if resume else None)
        if resume and self.engine is not None:
            # The steps a run acts in (never re-planning, never the typed-domain one unasked).
            running = [
                s.id
                for s in load_registry().STEPS
                if s.by_api
                and not s.plans
                and not s.typed_domain
                and self.step_states[s.id].status == StepStatus.PENDING
            ]
            if running:
                self.main.query_one(StepChecklist).select(running[0])
                self.request_run(running[0])

    def _begin(self, resumed: str | None) -> None:
        if self.engine is not None and not self.engine.run_id:
            self.engine.begin(
                "tui",
                {
                    "resumed": resumed,
                    "read_only": self.options.read_only,
                    "keep": list(self.options.keep),
                },
            )

    # -- properties for screens ----------------------------------------------------------------

    @property
    def main(self) -> MainScreen:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        raise RuntimeError("main screen not installed")

    @property
    def targets_sandbox(self) -> bool:
        url = self.options.graph_url or ""
        return (
            self.options.demo
            or self.options.rehearse is not None
            or url.startswith(("http://127.", "http://localhost", "http://[::1]"))
        )

    def _sign_in_screen(self) -> SignInScreen | None:
        return next((s for s in self.screen_stack if isinstance(s, SignInScreen)), None)

    def server_now(self) -> datetime | None:
        return self.engine.client.server_time() if self.engine else None

    def can_run(self, step: StepId | None) -> bool:
        """Whether ``r`` may run ``step`` now (the typed-domain step has a key of its own)."""
        if step is None or self.engine is None:
            return False
        registry = load_registry()
        spec = registry.step(step)
        return not spec.typed_domain and registry.may_run(
            spec, self.step_states, read_only=self.options.read_only
        )

    def can_delete_directory(self) -> bool:
        """Whether ``D`` may start the irreversible step (it asks for the typed domain)."""
        if self.engine is None:
            return False
        registry = load_registry()
        return registry.may_run(
            registry.typed(), self.step_states, read_only=self.options.read_only
        )

    # -- engine → UI ---------------------------------------------------------------------------

    def on_step_state_changed(self, message: StepStateChanged) -> None:
        st = message.state
        self.step_states[st.step] = st
        if st.status == StepStatus.RUNNING:
            self._run_base[st.step] = st.done
        else:
            self._run_base.pop(st.step, None)
        checklist = self.main.query_one(StepChecklist)
        checklist.update_steps(self._all_states())
        if checklist.selected == st.step:
            self.show_step_detail(st.step)
        self._refresh_keys_soon()
        if (
            st.step == StepId.DELETE_DIRECTORY
            and st.status == StepStatus.DONE
            and self.engine
            and self.engine.gone
        ):
            self.closeout_code = ExitCode.DONE
            self.notify(_("The tenant is deleted. The close-out is complete."), timeout=10)

    def _all_states(self) -> list[StepState]:
        """Every step the registry lists, in its order, as last reported."""
        return [self.step_states.get(s) or StepState(s) for s in load_registry().ids()]

    def on_progress_changed(self, message: ProgressChanged) -> None:
        p = message.progress
        bar = self.main.query_one(RunProgress)
        bar.update_progress(p.done, p.total, p.failed, p.eta_seconds)
        bar.update_throttle(p.writes_in_window, p.write_quota)
        # The checklist counts move with the run, not only when Graph is read again after it.
        st = self.step_states[p.step]
        base = self._run_base.get(p.step)
        if st.status == StepStatus.RUNNING and base is not None and base + p.total <= st.total:
            self.step_states[p.step] = replace(st, done=base + p.done, failed=p.failed)
            self.main.query_one(StepChecklist).update_steps(self._all_states())

    def on_handoff_changed(self, message: HandoffChanged) -> None:
        self.handoffs[message.handoff.step] = message.handoff
        if isinstance(self.screen, HandoffScreen) and self.screen.step == message.handoff.step:
            self.screen.update(message.handoff)
        self._refresh_keys_soon()

    def _refresh_keys_soon(self) -> None:
        # Every refresh_bindings recomposes the whole footer (~20 ms here); engine messages
        # come in bursts (one per step after each read), so refresh once after the burst.
        if not self._keys_refresh_pending:
            self._keys_refresh_pending = True
            self.call_later(self._refresh_keys)

    def refresh_keys(self) -> None:
        """For the screens: the footer after the selected step changed."""
        self._refresh_keys()

    def _refresh_keys(self) -> None:
        """Rebuild the footer only if some key's availability changed (a rebuild costs
        tens of milliseconds; moving through the checklist must stay instant)."""
        self._keys_refresh_pending = False
        if not self.is_running:
            return
        try:
            main = self.main
            signature = main.key_signature()
        except (NoMatches, RuntimeError):
            return  # the main screen is not composed yet, or is being torn down
        if signature != self._keys_signature:
            self._keys_signature = signature
            main.refresh_bindings()

    def on_inventory_loaded(self, message: InventoryLoaded) -> None:
        self._load_tables(message.inventory)

    def _load_tables(self, inv: InventoryRefreshed, *, force: bool = False) -> None:
        kept = self.engine.plan.kept_ids if self.engine and self.engine.plan else frozenset()
        main = self.main
        # The user table can hold 50,000 rows: rebuilt only when more than disappearance
        # changed (new users, sync turned off, the plan's kept set); small tables always are.
        signature = (kept, frozenset(u.id for u in inv.users if u.synced))
        users = main.query_one("#table-users", RemainingTable)
        rows = user_rows(inv.users, kept)
        if force or signature != self._users_signature:
            self._users_signature = signature
            users.load(rows)
            settle_after_load(len(rows))  # 100,000 rows: out of the full collections' walk
        else:
            _reload_or_mark(users, rows)
        main.query_one("#table-subscriptions", RemainingTable).load(
            subscription_rows(inv.subscriptions, self.server_now())
        )
        main.query_one("#table-apps", RemainingTable).load(app_rows(inv.apps))
        main.query_one("#table-policies", RemainingTable).load(policy_rows(inv.policies))
        main.update_tab_counts()

    def _flush_bridge(self) -> None:
        if not self.is_running:
            # Textual's teardown has begun and is removing the widgets; a timer may still fire
            # in between (when the app is closed without exit(), as run_test does).
            return
        pending = self.bridge.take()
        if not pending.lines and not pending.marks:
            return
        main = self.main
        with self.batch_update():
            for table_name, marks in pending.marks.items():
                main.query_one(f"#table-{table_name}", RemainingTable).mark(marks)
            if pending.lines:
                main.query_one(LogPanel).write_many(pending.lines)
            if pending.marks:
                main.update_tab_counts()

    def show_step_detail(self, step: StepId) -> None:
        st = self.step_states.get(step) or StepState(step)
        detail = step_detail(st, self.engine.plan if self.engine else None)
        self.main.query_one(StepDetail).show(
            detail.title, detail.will_do, detail.did, detail.blockers
        )

    # -- actions -------------------------------------------------------------------------------

    def request_run(self, step: StepId) -> None:
        if self.engine is None or not self.can_run(step):
            return
        # The app's own copy of the state counts further than the last read while a step runs.
        ask = self.engine.confirmation(step, self.step_states[step])
        if ask is None:  # it changes nothing in the tenant: nothing to ask
            self._run_step(step, None)
            return
        self.push_screen(
            ConfirmModal(
                ask.title, "\n".join(ask.body), confirm_label=ask.confirm_label, id="confirm"
            ),
            lambda ok: self._run_step(step, None) if ok else None,
        )

    def can_offer_last_resort(self) -> bool:
        return self.engine is not None and self.engine.last_resort_available()

    def request_last_resort(self) -> None:
        """The admin says the portal refused "Delete tenant": offer DELTEN's last resort,
        behind its own typed confirmation."""
        if self.engine is None or not self.can_offer_last_resort():
            return
        domain = self.engine.caller.tenant.initial_domain
        self.push_screen(
            TypedConfirmModal(
                domain,
                self.engine.last_resort_consequences(),
                title=_("The portal refused Delete tenant: remove every service principal?"),
                action=_("Delete and disable"),
                id="last-resort-confirm",
            ),
            lambda ok: (
                self._run_step(load_registry().typed().id, domain, last_resort=True) if ok else None
            ),
        )

    def request_delete_directory(self) -> None:
        if self.engine is None or not self.can_delete_directory():
            return
        spec = load_registry().typed()
        domain = self.engine.caller.tenant.initial_domain
        ask = self.engine.confirmation(spec.id, self.step_states[spec.id])
        self.push_screen(
            TypedConfirmModal(
                domain,
                list(ask.body) if ask else [],
                title=ask.title if ask else None,
                action=ask.confirm_label if ask else None,
            ),
            lambda ok: self._run_step(spec.id, domain) if ok else None,
        )

    def _run_step(
        self, step: StepId, confirm_domain: str | None, *, last_resort: bool = False
    ) -> None:
        if self.step_running is not None or self.engine is None:
            return
        self.control = RunControl()
        self.step_running = step
        bar = self.main.query_one(RunProgress)
        bar.running = True
        bar.paused = False
        self._refresh_keys()
        self._step_worker(step, confirm_domain, self.control, last_resort)

    @work(
        thread=True,
        group="step",
        exclusive=True,
        exit_on_error=False,
        name="step",
        description="Run one step",
    )
    def _step_worker(
        self,
        step: StepId,
        confirm_domain: str | None,
        control: RunControl,
        last_resort: bool = False,
    ) -> None:
        assert self.engine is not None
        try:
            if last_resort:
                state = self.engine.remove_all_service_principals(confirm_domain, control=control)
            else:
                state = self.engine.run_step(step, confirm_domain=confirm_domain, control=control)
            self.post_message(StepFinished(StepResult(step, state)))
        except CloseoutError as exc:
            self.post_message(StepFinished(StepResult(step, None, exc.message, exc.hint)))

    def on_step_finished(self, message: StepFinished) -> None:
        result = message.result
        self.step_running = None
        self.control = None
        self._flush_bridge()
        main = self.main
        main.query_one(RunProgress).running = False
        for table in main.query(RemainingTable):
            table.compact()
        if result.error:
            main.query_one(LogPanel).write_line(
                "error", f"{result.error} {result.hint or ''}".strip()
            )
            self.notify(result.error, severity="error", timeout=8)
        elif result.state is not None and result.state.status == StepStatus.FAILED:
            self.notify(result.state.summary, severity="error", timeout=8)
        self._refresh_keys()

    def toggle_pause(self) -> None:
        if self.control is None:
            return
        bar = self.main.query_one(RunProgress)
        if self.control.paused:
            self.control.resume()
            bar.paused = False
        else:
            self.control.pause()
            bar.paused = True

    def stop_step(self) -> None:
        if self.control is not None:
            self.control.stop()
            self.main.query_one(LogPanel).write_line(
                "warning", _("Stopping after the batches in flight…")
            )

    def start_refresh(self) -> None:
        if self.engine is not None and self.step_running is None:
            self._refresh_worker()

    def _tick_watch(self) -> None:
        if self.step_running is None and self.engine is not None and not self.engine.gone:
            self._refresh_worker()

    @work(
        thread=True,
        group="watch",
        exclusive=True,
        exit_on_error=False,
        name="watch",
        description="Re-read the tenant",
    )
    def _refresh_worker(self) -> None:
        if self.engine is not None:
            self.engine.assess(refresh=True)

    def replan(self) -> None:
        if self.engine is not None and self.step_running is None:
            self._run_step(load_registry().planning().id, None)

    def show_handoff(self, step: StepId) -> None:
        handoff = self.handoffs.get(step)
        if handoff is not None:
            self.push_screen(HandoffScreen(handoff))

    def show_manual_checks(self) -> None:
        if self.engine is None:
            return
        self.push_screen(
            ManualChecksModal(
                load_registry().manual_checks(), self.engine.ticks(), recorded=self.engine.recording
            ),
            self._on_manual_checks,
        )

    def _on_manual_checks(self, ticked: set[str] | None) -> None:
        if ticked is None or self.engine is None:
            return
        for key in load_registry().manual_checks():
            if key in ticked:
                self.engine.tick(key)
            else:
                self.engine.untick(key)
        self.start_refresh()

    def show_help(self) -> None:
        self.push_screen(HelpScreen())

    def play_portal(self, step: StepId | None) -> None:
        if self.portal is None:
            return
        self._portal_worker(int(step) if step is not None else 0)

    @work(
        thread=True, group="misc", exit_on_error=False, name="portal", description="Sandbox portal"
    )
    def _portal_worker(self, step: int) -> None:
        lines = self.portal.play(step) if step in (2, 3, 5) else self.portal.play_all()
        for line in lines or [_("Nothing to do in the admin center for this step.")]:
            self.bridge.line("info", f"[sandbox admin center] {line}")
        if self.engine is not None:
            self.engine.assess(refresh=True)

    def export_evidence(self) -> None:
        if self.engine is not None:
            self._export_worker()

    @work(
        thread=True, group="misc", exit_on_error=False, name="export", description="Export evidence"
    )
    def _export_worker(self) -> None:
        assert self.engine is not None
        path = self.engine.write_evidence(all_runs=True)
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
            self.post_message(
                StepFinished(
                    StepResult(
                        self.step_running or load_registry().ids()[0],
                        None,
                        _("The step stopped on an unexpected error."),
                        text,
                    )
                )
            )
        try:
            self.main.query_one(LogPanel).write_line("error", text)
        except Exception:  # the main screen may not be up yet (sign-in)
            log.debug("no log panel yet")
        self.notify(text, severity="error", timeout=10)

    async def action_quit(self) -> None:
        if self.step_running is not None:
            self.push_screen(
                ConfirmModal(
                    _("A step is running"),
                    _(
                        "Stop it after the batches in flight and quit? Everything sent is recorded; the journal "
                        "lets you resume later."
                    ),
                    confirm_label=_("Stop and quit"),
                    id="quit-guard",
                ),
                self._on_quit_answer,
            )
            return
        await self._leave()

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
        if self.engine is not None and self.engine.run_id:
            try:
                self.engine.finish(self.closeout_code)
            except Exception:  # leaving must not fail; the journal stays readable
                log.exception("finishing the run failed")
        # return_code too: Textual leaves it 0 unless told, and sets 1 only for a crash.
        self.exit(self.closeout_code, return_code=self.closeout_code)

    def hang_up(self) -> None:
        """SIGHUP (the SSH session dropped): stop cleanly at the next timer tick."""
        self._hangup = True
        if self.control is not None:
            self.control.stop()

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
        yield SystemCommand(
            _("Quit"), _("Quit closeout (asks first while a step runs)"), self.action_quit
        )
        yield SystemCommand(_("Help"), _("Keys and what each step does"), self.show_help)
        yield SystemCommand(
            _("Export evidence"), _("Write the evidence pack"), self.export_evidence
        )
        yield SystemCommand(_("Refresh"), _("Re-read the tenant from Graph"), self.start_refresh)


def _reload_or_mark(table: RemainingTable, rows: list[tuple[str, list[str | Text]]]) -> None:
    """Objects only disappear during a close-out: mark them instead of rebuilding 50,000 rows."""
    keys = {key for key, _cells in rows}
    if table.total and not keys - table.keys():
        gone = {
            key: "gone"
            for key in table.keys() - keys
            if table.status_of(key) not in ("deleted", "done", "gone")
        }
        if gone:
            table.mark(gone)
        return
    table.load(rows)
