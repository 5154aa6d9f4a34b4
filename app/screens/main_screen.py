"""The one main screen: where am I (checklist), what is left (tables), what just happened (log).

It owns the keys the admin uses for days; each is shown in the footer and gated by
:mod:`app.gating` (greyed out while it cannot act — the step-5 delete until steps 1–4 are
done), and asks what its step asks before the app runs anything (the questions themselves are
in :mod:`.step_questions`). It also owns showing what the engine reports: the app hands it
states, progress, Graph reads and batched outcomes, and keeps the workers. It reaches the app
only through :class:`~app.controller.Controller`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, ClassVar, TypeVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import Widget

from app import gating
from app.texts import step_detail
from services.i18n import _
from services.models import StepId, StepState, StepStatus
from services.names import step_name
from services.steps import load_registry
from widgets import (
    FittingFooter,
    LogPanel,
    RunProgress,
    StepChecklist,
    StepDetail,
    TenantHeader,
)
from widgets.log_panel import level_name, level_tag

from . import step_questions
from .full_text import FullTextModal
from .handoff import HandoffScreen
from .help import HelpScreen
from .remaining import RemainingPane

if TYPE_CHECKING:
    from app.bridge import Pending
    from app.controller import Controller
    from app.messages import StepResult
    from app.since_left import Resumable
    from services.engine import Engine
    from services.models import Handoff, InventoryRefreshed

W = TypeVar("W", bound=Widget)


class MainScreen(Screen[None]):
    """Checklist, live tables, step detail, progress and log."""

    # Textual declares the breakpoints as attributes an instance may override, not ClassVars.
    HORIZONTAL_BREAKPOINTS: list[tuple[int, str]] | None = [(0, "-narrow"), (100, "-wide")]  # noqa: RUF012
    # Wide but short terminals (120x24): compact checklist and a shorter log.
    VERTICAL_BREAKPOINTS: list[tuple[int, str]] | None = [(0, "-short"), (32, "-tall")]  # noqa: RUF012

    # Footer order. Help and Quit come first: at 80 columns the footer shows only the first
    # five or six keys, and from help the admin finds every other one.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", _("Help"), id="help", key_display="?"),
        Binding("q", "quit", _("Quit"), id="quit"),
        # When nothing runs (a run takes Ctrl-C first, app-wide): copy what is selected, else
        # quit as a terminal user expects, not Textual's toast saying which key quits.
        Binding("ctrl+c", "copy_or_quit", _("Quit"), show=False, key_display="Ctrl-C"),
        Binding("r", "run_step", _("Run step"), id="run-step"),
        Binding("D", "delete_directory", _("Delete directory…"), id="delete-directory"),
        Binding("h", "handoff", _("Handoff"), id="handoff"),
        Binding("m", "manual", _("Manual checks"), id="manual-checks"),
        Binding("p", "pause", _("Pause/resume"), id="pause"),
        Binding("s", "stop", _("Stop"), id="stop"),
        Binding("slash", "filter", _("Filter"), id="filter", key_display="/"),
        Binding("t", "next_tab", _("Next tab"), id="next-tab"),
        Binding("k", "keep", _("Keep user"), id="keep"),
        Binding("K", "keep_shown", _("Keep all shown"), id="keep-shown"),
        Binding("g", "refresh", _("Refresh"), id="refresh"),
        Binding("n", "replan", _("New plan"), id="replan"),
        Binding("e", "export", _("Export"), id="export"),
        Binding("l", "log_level", _("Log level"), id="log-level"),
        Binding("A", "play_portal", _("Play admin center"), id="play-portal"),
        Binding("X", "last_resort", _("Portal refused…"), id="last-resort"),
        # Digits jump to a step (in the help, not the footer: six keys would crowd it out).
        *(Binding(str(n), f"jump({n})", _("Step {n}").format(n=n), show=False) for n in range(6)),
    ]

    def __init__(self, controller: Controller) -> None:
        super().__init__()
        self.controller = controller
        self._keys_signature: object = None
        self._keys_refresh_pending = False
        self._found: dict[type[Widget], Widget] = {}

    def compose(self) -> ComposeResult:
        yield TenantHeader(id="tenant-header")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield StepChecklist(id="checklist")
                yield StepDetail(id="step-detail")
            yield RemainingPane(id="right")
        yield LogPanel(id="log")
        # Compact, so that many keys fit on one line; the ones that do not are left out of
        # it (never drawn over each other) and are in help and the palette.
        yield FittingFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one(StepChecklist).focus()

    @property
    def pane(self) -> RemainingPane:
        return self._one(RemainingPane)

    def _one(self, kind: type[W]) -> W:
        """The screen's one widget of ``kind``: found once, then kept (a running step's
        flushes reach four of them ten times a second)."""
        found = self._found.get(kind)
        if found is None:
            found = self._found[kind] = self.query_one(kind)
        return cast("W", found)

    @property
    def selected(self) -> StepId | None:
        return self.query_one(StepChecklist).selected

    # -- what the app reports ------------------------------------------------------------------

    def show_connected(self, engine: Engine) -> None:
        """The tenant as connecting read it: header, steps, tables, the selected step."""
        self.query_one(TenantHeader).set_tenant(engine.caller.tenant)
        self.show_steps()
        if engine.inventory is not None:
            self.load_inventory(engine.inventory.as_event(), force=True)
        self.show_detail(self.selected or load_registry().ids()[0])

    def show_steps(self, changed: StepId | None = None) -> None:
        """The checklist as the app's step states say; ``changed``: a step's state (not just
        its count) moved, so its detail and the keys it gates may have too."""
        checklist = self.query_one(StepChecklist)
        server_now = self.controller.server_now()
        if server_now is not None:
            checklist.set_now(server_now)  # "… left" counts to Graph's deadlines
        checklist.update_steps(ordered(self.controller.step_states))
        self.show_run()
        if changed is not None:
            if checklist.selected == changed:
                self.show_detail(changed)
            self.refresh_keys_soon()

    def show_handoff_changed(self, handoff: Handoff) -> None:
        """A handoff changed: the open handoff screen shows it, ``h`` may act now."""
        screen = self.app.screen
        if isinstance(screen, HandoffScreen) and screen.step == handoff.step:
            screen.update(handoff)
        self.refresh_keys_soon()

    def show_detail(self, step: StepId) -> None:
        st = self.controller.step_states.get(step) or StepState(step)
        engine = self.controller.engine
        detail = step_detail(st, engine.plan if engine else None)
        self.query_one(StepDetail).show(detail.title, detail.will_do, detail.did, detail.blockers)

    def show_run(self) -> None:
        """The progress bar: the running step, read from the same book as the checklist."""
        step = self.controller.step_running
        if step is None:
            return
        view = self.controller.run_view(step)
        bar = self._one(RunProgress)
        bar.label = step_name(step)
        bar.update_progress(view.done, view.total, view.failed, view.eta_seconds)
        bar.update_throttle(view.writes_in_window, view.write_quota)

    def load_inventory(self, inv: InventoryRefreshed, *, force: bool = False) -> None:
        engine = self.controller.engine
        plan = engine.plan if engine else None
        self.pane.load(inv, plan, self.controller.server_now(), force=force)

    def tenant_deleted(self) -> None:
        """The tenant is gone: nothing of the last read remains to be done."""
        self.pane.tenant_deleted()

    def apply(self, pending: Pending) -> None:
        """A batch from the bridge: outcomes marked in the tables, lines in the log."""
        with self.app.batch_update():
            self.pane.mark(pending.marks)
            if pending.live:
                self._one(StepChecklist).update_steps(ordered(self.controller.step_states))
            if pending.live or pending.progress:
                self.show_run()
            if pending.lines:
                self._one(LogPanel).write_many(pending.lines)

    def step_started(self) -> None:
        bar = self.query_one(RunProgress)
        bar.running = True
        bar.paused = False
        self.show_run()  # this step's counts from the start, never the last run's
        self.refresh_keys()

    def step_finished(self, result: StepResult) -> None:
        self.query_one(RunProgress).running = False
        self.pane.compact()
        waits = result.state is not None and result.state.status == StepStatus.WAITING_TIME
        if result.error and waits:
            # Graph asked for a long wait: the checklist shows until when.
            self.notify(
                f"{result.error}\n{result.hint or ''}".strip(),
                title=_("Waiting on Graph"),
                severity="warning",
                timeout=15,
            )
        elif result.error:
            self.write_log("error", f"{result.error} {result.hint or ''}".strip())
            self.notify(result.error, severity="error", timeout=8)
        elif result.state is not None and result.state.status == StepStatus.FAILED:
            self.notify(result.state.summary, severity="error", timeout=8)
        self.refresh_keys()

    def write_log(self, level: str, text: str) -> None:
        self.query_one(LogPanel).write_line(level, text)

    def offer_resume(self, resume: Resumable) -> None:
        """The journal shows a run that did not finish: continue it, or begin a new one."""
        step_questions.ask_to_resume(self.app, resume, self._resume)

    def select_step(self, step: StepId) -> None:
        """Make ``step`` the selected one (what ``r`` and Enter act on)."""
        self.query_one(StepChecklist).select(step)

    def _resume(self, run: str | None) -> None:
        self.controller.begin_run(run)
        if run is None or self.controller.engine is None:
            return
        running = step_questions.steps_to_resume(self.controller)
        if running:
            self.query_one(StepChecklist).select(running[0])
            self.request_run(running[0])

    # -- the footer -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return gating.key_state(self.controller, action, self.selected)

    def key_signature(self) -> tuple[bool | None, ...]:
        """Every binding's availability: the footer needs a rebuild only when this changes."""
        return tuple(
            self.check_action(b.action, ()) for b in self.BINDINGS if isinstance(b, Binding)
        )

    def refresh_keys_soon(self) -> None:
        # Every refresh_bindings recomposes the whole footer (~20 ms here); engine messages
        # come in bursts (one per step after each read), so refresh once after the burst.
        if not self._keys_refresh_pending:
            self._keys_refresh_pending = True
            self.call_later(self.refresh_keys)

    def refresh_keys(self) -> None:
        """Rebuild the footer only if some key's availability changed (a rebuild costs
        tens of milliseconds; moving through the checklist must stay instant)."""
        self._keys_refresh_pending = False
        if not self.app.is_running:
            return
        try:
            signature = self.key_signature()
        except NoMatches:
            return  # not composed yet, or being torn down
        if signature != self._keys_signature:
            self._keys_signature = signature
            self.refresh_bindings()

    # -- the keys -------------------------------------------------------------------------------

    def action_run_step(self) -> None:
        if self.selected is not None:
            self.request_run(self.selected)

    def request_run(self, step: StepId) -> None:
        step_questions.ask_to_run(self.app, self.controller, step)

    def action_delete_directory(self) -> None:
        step_questions.ask_to_delete_directory(self.app, self.controller)

    def action_last_resort(self) -> None:
        """The admin says the portal refused "Delete tenant": offer DELTEN's last resort."""
        step_questions.ask_last_resort(self.app, self.controller)

    def action_handoff(self) -> None:
        if self.selected is not None:
            self.show_handoff(self.selected)

    def show_handoff(self, step: StepId) -> None:
        handoff = self.controller.handoffs.get(step)
        if handoff is not None:
            self.app.push_screen(HandoffScreen(handoff, self.controller))

    def action_manual(self) -> None:
        step_questions.ask_manual_checks(self.app, self.controller)

    def action_pause(self) -> None:
        if self.controller.control is not None:
            self.query_one(RunProgress).paused = self.controller.toggle_pause()

    def action_stop(self) -> None:
        self.controller.stop_step()

    def action_refresh(self) -> None:
        # The read changes nothing visible when the tenant has not changed: say it started.
        self.controller.start_refresh()
        self.notify(_("Reading the tenant again from Graph…"), timeout=3)

    def action_replan(self) -> None:
        self.controller.replan()
        self.notify(_("Making a new plan (step 0)…"), timeout=3)

    def action_export(self) -> None:
        self.controller.export_evidence()

    def action_play_portal(self) -> None:
        self.controller.play_portal(self.selected)

    def action_log_level(self) -> None:
        level = self.query_one(LogPanel).cycle_level()
        self.notify(_("Log level: {level}").format(level=level_name(level)), timeout=2)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        await self.controller.request_quit()

    async def action_copy_or_quit(self) -> None:
        selection = self.get_selected_text()
        if selection:
            self.app.copy_to_clipboard(selection)
        else:
            await self.controller.request_quit()

    def action_next_tab(self) -> None:
        self.pane.next_tab()

    def action_keep(self, every_shown: bool = False) -> None:
        engine = self.controller.engine
        why = self.pane.mark_keep(engine, every_shown=every_shown) if engine else None
        if why:
            self.notify(why, severity="warning", timeout=4)

    def action_keep_shown(self) -> None:
        self.action_keep(every_shown=True)

    def action_filter(self) -> None:
        self.pane.open_filter()

    def action_jump(self, n: int) -> None:
        step = next((s for s in StepId if s == n), None)
        if step is not None:
            self.query_one(StepChecklist).select(step)

    @classmethod
    def why_not_bindings(cls) -> list[Binding]:
        """The app's bindings of this screen's keys: a key that cannot act now says why, in one
        line, instead of doing nothing. Textual tries them after the screen's own binding
        declined the key, i.e. in the order the keys came: "2h" typed at once selects step 2
        before h is judged (a screen's ``on_key`` judged h before the app ran 2's binding)."""
        return [
            Binding(b.key, f"why_not({b.action!r})", show=False)
            for b in cls.BINDINGS
            if isinstance(b, Binding) and b.show
        ]

    def explain(self, action: str) -> None:
        """A key of this screen that its binding declined: why, if the key is greyed out."""
        if self.check_action(action, ()) is None:
            self.say_why(action)

    def say_why(self, action: str) -> None:
        text = gating.why_not(self.controller, action, self.selected)
        self.notify(text, severity="warning", timeout=4)

    async def do_action(self, action: str) -> None:
        """The command palette's way in: the key's action, or why it cannot act now."""
        if self.check_action(action, ()) is None:
            self.say_why(action)
        else:
            await self.run_action(action)

    def palette_commands(self) -> list[tuple[str, str, str]]:
        """(title, help, action) for each key: the palette holds every action with its key."""
        commands = []
        for b in self.BINDINGS:
            if isinstance(b, Binding) and b.show:
                key = b.key_display or b.key
                help_text = _("Key: {key}").format(key=key)
                commands.append((f"{b.description} ({key})", help_text, b.action))
        # The digits, not in the footer: one command per step, named.
        for step in load_registry().ids():
            title = _("Go to step {n}: {name}").format(n=int(step), name=step_name(step))
            help_text = _("Key: {key}").format(key=int(step))
            commands.append((f"{title} ({int(step)})", help_text, f"jump({int(step)})"))
        return commands

    def key_escape(self) -> None:
        if self.pane.close_filter():
            self.query_one(StepChecklist).focus()

    def on_log_panel_line_chosen(self, event: LogPanel.LineChosen) -> None:
        """Enter on a log line: the whole line, wrapped."""
        self.app.push_screen(FullTextModal(f"{event.stamp} {level_tag(event.level)}", event.text))

    def on_step_checklist_step_selected(self, event: StepChecklist.StepSelected) -> None:
        self.show_detail(event.step)
        self.refresh_keys()

    def on_step_checklist_step_activated(self, event: StepChecklist.StepActivated) -> None:
        """Enter on a step does its next thing: run, handoff, manual checks, typed confirmation."""
        step = event.step
        action = gating.next_action(self.controller, step)
        if action == "handoff":
            self.show_handoff(step)
        elif action == "run_step":
            self.request_run(step)
        elif action == "delete_directory":
            self.action_delete_directory()
        elif action == "manual":
            self.action_manual()
        else:
            typed = load_registry().step(step).typed_domain
            self.say_why("delete_directory" if typed else "run_step")


def ordered(states: Mapping[StepId, StepState]) -> Iterable[StepState]:
    """Every step the registry lists, in its order, as last reported."""
    return [states.get(s) or StepState(s) for s in load_registry().ids()]
