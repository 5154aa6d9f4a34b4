"""The one main screen: where am I (checklist), what is left (tables), what just happened (log).

It owns the keys the admin uses for days; each is shown in the footer and gated by
:meth:`MainScreen.check_action` (greyed out while it cannot act — the step-5 delete until steps
1–4 are done). The screen only renders and routes keys; the app owns workers and the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from services.i18n import N_, _
from services.models import StepStatus
from widgets import LogPanel, RemainingTable, RunProgress, StepChecklist, StepDetail, TenantHeader

if TYPE_CHECKING:
    from app.closeout_app import CloseoutApp

# Status first: at 80 columns the right-hand columns are the ones cut off.
USER_COLUMNS = [
    ("status", N_("Status"), 9),
    ("upn", N_("User"), 36),
    ("type", N_("Type"), 7),
    ("sync", N_("Sync"), 6),
    ("roles", N_("Roles"), 24),
]
# The admin center's product name, then the SKU code Graph uses; Graph's raw status last (the
# status column already says what closeout reads from it).
SUB_COLUMNS = [
    ("status", N_("Status"), 9),
    ("product", N_("Product"), 34),
    ("sku", N_("SKU"), 22),
    ("until", N_("Next change"), 11),
    ("note", N_("Note"), 14),
    ("state", N_("Graph status"), 10),
]
APP_COLUMNS = [
    ("status", N_("Status"), 9),
    ("name", N_("Name"), 30),
    ("kind", N_("Kind"), 18),
    ("owner", N_("Owner"), 12),
]
POLICY_COLUMNS = [
    ("status", N_("Status"), 9),
    ("name", N_("Policy"), 34),
    ("state", N_("State"), 14),
    ("mfa", N_("MFA"), 4),
    ("kind", N_("Kind"), 18),
]


class MainScreen(Screen[None]):
    """Checklist, live tables, step detail, progress and log."""

    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (100, "-wide")]
    # Wide but short terminals (120x24): compact checklist and a shorter log.
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-short"), (32, "-tall")]

    # Footer order. Help and Quit come first: at 80 columns the footer shows only the first
    # five or six keys, and from help the admin finds every other one.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", _("Help"), id="help", key_display="?"),
        Binding("q", "quit", _("Quit"), id="quit"),
        Binding("r", "run_step", _("Run step"), id="run-step"),
        Binding("D", "delete_directory", _("Delete directory…"), id="delete-directory"),
        Binding("h", "handoff", _("Handoff"), id="handoff"),
        Binding("m", "manual", _("Manual checks"), id="manual-checks"),
        Binding("p", "pause", _("Pause/resume"), id="pause"),
        Binding("s", "stop", _("Stop"), id="stop"),
        Binding("slash", "filter", _("Filter"), id="filter", key_display="/"),
        Binding("t", "next_tab", _("Next tab"), id="next-tab"),
        Binding("g", "refresh", _("Refresh"), id="refresh"),
        Binding("n", "replan", _("New plan"), id="replan"),
        Binding("e", "export", _("Export"), id="export"),
        Binding("l", "log_level", _("Log level"), id="log-level"),
        Binding("A", "play_portal", _("Play admin center"), id="play-portal"),
        Binding("X", "last_resort", _("Portal refused…"), id="last-resort"),
    ]

    @property
    def closeout(self) -> CloseoutApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield TenantHeader(id="tenant-header")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield StepChecklist(id="checklist")
                yield StepDetail(id="step-detail")
            with Vertical(id="right"):
                yield RunProgress(id="run-progress")
                with TabbedContent(id="tabs"):
                    with TabPane(_("Users"), id="tab-users"):
                        yield RemainingTable(_columns(USER_COLUMNS), id="table-users")
                    with TabPane(_("Subscriptions"), id="tab-subscriptions"):
                        yield RemainingTable(_columns(SUB_COLUMNS), id="table-subscriptions")
                    with TabPane(_("Apps"), id="tab-apps"):
                        yield RemainingTable(_columns(APP_COLUMNS), id="table-apps")
                    with TabPane(_("Policies"), id="tab-policies"):
                        yield RemainingTable(_columns(POLICY_COLUMNS), id="table-policies")
                yield Static(id="remaining", markup=False)
                yield Input(placeholder=_("Filter: type, Enter to keep, Esc to clear"), id="filter")
        yield LogPanel(id="log")
        # Compact: every key is in the footer, and as many as possible fit on one line.
        yield Footer(compact=True)

    _filter_timer: Timer | None = None

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one(StepChecklist).focus()

    # -- gating ---------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        app = self.closeout
        running = app.step_running is not None
        selected = self.query_one(StepChecklist).selected
        if action == "run_step":
            return True if not running and app.can_run(selected) else None
        if action == "delete_directory":
            return True if not running and app.can_delete_directory() else None
        if action == "last_resort":
            # Only once step 5 handed "Delete tenant" over: the portal cannot have refused
            # anything before that.
            return True if not running and app.can_offer_last_resort() else None
        if action in ("pause", "stop"):
            return True if running else None
        if action == "handoff":
            return True if selected in app.handoffs else None
        if action == "manual":
            return True if app.engine is not None else None
        if action == "play_portal":
            # Sandbox only: there is no such key against a real tenant.
            return app.portal is not None
        if action in ("refresh", "replan", "export"):
            return None if running or app.engine is None else True
        return True

    def key_signature(self) -> tuple[bool | None, ...]:
        """Every binding's availability: the footer needs a rebuild only when this changes."""
        return tuple(self.check_action(b.action, ()) for b in self._bindings_list())

    def _bindings_list(self) -> list[Binding]:
        return [b for b in self.BINDINGS if isinstance(b, Binding)]

    def update_tab_counts(self) -> None:
        """One line under the tabs with what remains in each table.

        Not in the tab labels: a relabelled tab moves the tab underline after the next layout,
        which lags behind when the screen is covered by a modal.
        """
        counts = {
            key: self.query_one(f"#table-{key}", RemainingTable).remaining
            for key in ("users", "subscriptions", "apps", "policies")
        }
        self.query_one("#remaining", Static).update(
            _(
                "Remaining: {users:,} users · {subscriptions:,} subscriptions · {apps:,} apps · "
                "{policies:,} policies"
            ).format(**counts)
        )

    def action_run_step(self) -> None:
        step = self.query_one(StepChecklist).selected
        if step is not None:
            self.closeout.request_run(step)

    def action_delete_directory(self) -> None:
        self.closeout.request_delete_directory()

    def action_last_resort(self) -> None:
        self.closeout.request_last_resort()

    def action_handoff(self) -> None:
        step = self.query_one(StepChecklist).selected
        if step is not None:
            self.closeout.show_handoff(step)

    def action_manual(self) -> None:
        self.closeout.show_manual_checks()

    def action_pause(self) -> None:
        self.closeout.toggle_pause()

    def action_stop(self) -> None:
        self.closeout.stop_step()

    def action_refresh(self) -> None:
        self.closeout.start_refresh()

    def action_replan(self) -> None:
        self.closeout.replan()

    def action_export(self) -> None:
        self.closeout.export_evidence()

    def action_log_level(self) -> None:
        level = self.query_one(LogPanel).cycle_level()
        self.notify(_("Log level: {level}").format(level=level), timeout=2)

    def action_play_portal(self) -> None:
        step = self.query_one(StepChecklist).selected
        self.closeout.play_portal(step)

    def action_help(self) -> None:
        self.closeout.show_help()

    async def action_quit(self) -> None:
        await self.closeout.action_quit()

    def action_next_tab(self) -> None:
        tabs = self.query_one(TabbedContent)
        panes = [p.id for p in tabs.query(TabPane)]
        if tabs.active in panes:
            tabs.active = panes[(panes.index(tabs.active) + 1) % len(panes)] or ""

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            # Debounced: filtering 50,000 rows costs a few hundred ms, not worth per keystroke.
            if self._filter_timer is not None:
                self._filter_timer.stop()
            value = event.value
            self._filter_timer = self.set_timer(0.25, lambda: self.active_table().set_filter(value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.active_table().focus()

    def key_escape(self) -> None:
        box = self.query_one("#filter", Input)
        if box.display:
            box.value = ""
            box.display = False
            for table in self.query(RemainingTable):
                table.set_filter("")
            self.query_one(StepChecklist).focus()

    def active_table(self) -> RemainingTable:
        tabs = self.query_one(TabbedContent)
        pane = tabs.get_pane(tabs.active) if tabs.active else None
        if pane is not None:
            return pane.query_one(RemainingTable)
        return self.query_one("#table-users", RemainingTable)

    def on_step_checklist_step_selected(self, event: StepChecklist.StepSelected) -> None:
        self.closeout.show_step_detail(event.step)
        self.closeout.refresh_keys()

    def on_step_checklist_step_activated(self, event: StepChecklist.StepActivated) -> None:
        app = self.closeout
        st = app.step_states.get(event.step)
        if (
            event.step in app.handoffs
            and st is not None
            and st.status in (StepStatus.WAITING_PERSON, StepStatus.WAITING_TIME)
        ):
            app.show_handoff(event.step)


def _columns(specs: list[tuple[str, str, int]]) -> list[tuple[str, str | Text, int]]:
    return [(key, _(label), width) for key, label, width in specs]
