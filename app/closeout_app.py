"""The closeout Textual app: starting, connecting, and the workers besides the step's. It
implements :class:`~app.controller.Controller`, which is all the screens know of it.

It keeps the session, the engine and the steps' states as the engine reports them
(:mod:`app.app_state`); the main screen shows them, the sign-in screen signs in. Workers (one
group each, ``exit_on_error=False``, errors routed to the log and a notification): ``auth``
(the sign-in screen's) signs in and connects, ``step`` runs one step (:mod:`app.step_runs`),
``watch`` re-reads Graph while nothing runs, ``misc`` exports and plays the sandbox portal.
Results reach the screen as messages and, for the many small ones, through the bridge's flush
timer. Quitting and lost terminals: :mod:`app.leaving`; the end (the completion view, the
evidence pack): :mod:`app.completing`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.command import CommandPalette
from textual.screen import Screen

from services.errors import LongWait, Stopped
from services.exit_codes import ExitCode
from services.i18n import _
from services.models import StepId
from services.steps import load_registry

from .completing import Completing
from .messages import (
    Connected,
    HandoffChanged,
    InventoryLoaded,
    StepStateChanged,
)
from .news import NewsArrived, TuiNews
from .screens.help import HelpScreen
from .screens.main_screen import MainScreen
from .screens.sign_in import SignInScreen
from .texts import connect_summary, read_only_notice
from .textual_words import PALETTE_KEY, PALETTE_TOOLTIP, SEARCH_COMMANDS, translated

if TYPE_CHECKING:
    from services.graph.responses import CallRecord
    from services.notify import News
    from services.sandbox.portal import PortalPlayer
    from services.session import Session

    from .since_left import Away

log = logging.getLogger("closeout.app")

FLUSH_SECONDS = 0.1


class CloseoutApp(Completing):
    CSS_PATH = "app.tcss"
    TITLE = "closeout"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", _("Quit"), show=False, priority=True, id="app-quit"),
        # Textual's own palette key (it adds none when the app has one), in the app's language.
        Binding(
            "ctrl+p",
            "command_palette",
            _(PALETTE_KEY),
            show=False,
            priority=True,
            tooltip=_(PALETTE_TOOLTIP),
        ),
        *MainScreen.why_not_bindings(),
    ]

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
        from .since_left import away, resumable

        news = self._news()
        if session.demo_note:
            self.bridge.note("info", session.demo_note)
        engine = session.connect(sink=self.bridge.sink, on_call=self._on_call, command="tui")
        news.tenant = engine.caller.tenant.initial_domain
        journal = engine.journal
        unfinished = journal.unfinished() if journal else None
        # What closeout last recorded, before this session records anything.
        seen, left_at = journal.last_steps() if journal else ({}, None)
        stops = journal.last_not_sent() if journal else {}
        engine.refresh()
        engine.ensure_plan().digest()  # hashed once, here: not on the UI thread at connect
        engine.assess(refresh=False)
        if session.sandbox is not None:
            from services.sandbox.portal import PortalPlayer

            self.portal = PortalPlayer(session.sandbox, engine)
        self.engine = engine
        if unfinished is not None:
            self.post_message(Connected(resume=resumable(unfinished)))
        else:
            self.post_message(Connected(away=away(seen, left_at, stops, dict(engine.states))))

    def _on_call(self, record: CallRecord) -> None:
        """A Graph exchange for the log (on the calling thread)."""
        engine = self.engine
        self.bridge.on_call(record, refusal_expected=engine is not None and engine.sign_in_may_end)

    def _news(self) -> News:
        """News of this session (made once, before the engine's first event): the bell, and
        ``--notify``'s target if given."""
        if self.news is None:
            from services.notify import News, Notifier

            notifier = None
            if self.notify_target is not None:
                notifier = Notifier(
                    self.notify_target, on_error=lambda line: self.bridge.note("warning", line)
                )
            self.news = News(TuiNews(self.post_message, notifier))
            self.bridge.watchers.append(self.news)
        return self.news

    def on_news_arrived(self, message: NewsArrived) -> None:
        self.bells += 1
        self.bell()
        self.notify(message.body["message"], title=_("News"), timeout=20)

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
        if message.resume is not None and engine.recording:
            self.main.offer_resume(message.resume)
        else:
            self.begin_run(None)
            if message.away is not None:
                self._welcome_back(message.away)

    def _welcome_back(self, news: Away) -> None:
        """A start after a clean quit: the step a stop left half done, and what changed."""
        from .since_left import away_text

        if news.stopped:
            self.bridge.note("warning", news.stopped)
            self.notify(news.stopped, timeout=15)
            if news.stopped_step is not None:
                self.main.select_step(news.stopped_step)
        if news.changes:
            text = away_text(news)
            self.bridge.note("info", text)
            self.notify(text, title=_("Since you left"), timeout=20)

    def begin_run(self, resumed: str | None) -> None:
        if self.engine is not None and not self.engine.run_id:
            keep = list(self.options.keep)
            record = {"resumed": resumed, "read_only": self.options.read_only, "keep": keep}
            self.engine.begin("tui", record)

    # -- engine → UI ---------------------------------------------------------------------------

    def on_step_state_changed(self, message: StepStateChanged) -> None:
        st = message.state
        self._flush_bridge()  # the rows the run marked before it ended, with its last state
        self.book.report(st)
        self.main.show_steps(changed=st.step)
        # Once the tenant is gone every step reports so; the first report after the engine
        # knows it brings the completion view, whichever step's it is.
        self.complete_if_gone()

    def on_handoff_changed(self, message: HandoffChanged) -> None:
        self.book.handoffs[message.handoff.step] = message.handoff
        self.main.show_handoff_changed(message.handoff)

    def on_inventory_loaded(self, message: InventoryLoaded) -> None:
        if not self.is_running:
            # A step's last read can land while the app is leaving, its widgets already gone.
            return
        self.main.load_inventory(message.inventory)

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

    def action_why_not(self, action: str) -> None:
        """The main screen declined one of its keys: it says why (another screen: nothing)."""
        screen = self.screen
        if isinstance(screen, MainScreen):
            screen.explain(action)

    def action_command_palette(self) -> None:
        # Textual's, with its placeholder in the app's language.
        if self.use_command_palette and not isinstance(self.screen, CommandPalette):
            self.push_screen(CommandPalette(id="--command-palette", placeholder=_(SEARCH_COMMANDS)))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # No "quit as soon as possible": quitting goes through the guard.
        for command in super().get_system_commands(screen):
            if command.title.lower().startswith("quit"):
                continue
            yield translated(command)
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
