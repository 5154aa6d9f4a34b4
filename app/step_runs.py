"""Running one step: the ``step`` worker (stoppable between batches), pause and stop, Ctrl-C
while a step runs (ask, then stop), and a worker that fails unexpectedly (the step ends with
the error shown, never a crash)."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import ClassVar

from textual import on, work
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.worker import Worker, WorkerState

from services.control import RunControl
from services.errors import CloseoutError, LongWait, Stopped
from services.i18n import _
from services.models import StepId, StepStatus
from services.steps import load_registry

from .app_state import AppState
from .bridge import ACTION_TABLE, Tally
from .messages import StepFinished, StepResult, StepStateChanged
from .screens.dialogs import STOP_GUARD_ID, stop_guard
from .texts import stop_summary

log = logging.getLogger("closeout.app")


class StepRuns(AppState):
    BINDINGS: ClassVar[list[BindingType]] = [
        # Before any widget's own Ctrl-C (an input's copy) while a step runs: a reflexive
        # Ctrl-C must stop the run, not only show a toast while batches keep going. When
        # nothing runs, check_action lets the key through: an input's copy, else the screen's
        # own Ctrl-C (quit, on the main and sign-in screens).
        Binding("ctrl+c", "interrupt", _("Stop"), show=False, priority=True, id="interrupt"),
    ]

    def run_step(
        self, step: StepId, confirm_domain: str | None = None, *, last_resort: bool = False
    ) -> None:
        if self.step_running is not None or self.engine is None:
            return
        # The step's own control (s stops the step), stopped too when the session is.
        self.control = self.session.control.child() if self.session else RunControl()
        self.step_running = step
        self.bridge.start_tally(step)
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
        except Stopped:
            # Asked for (s, Ctrl-C, quitting, a lost terminal): no error, one summary line.
            self.post_message(StepFinished(StepResult(step, None, stopped=True)))
        except CloseoutError as exc:
            self.post_message(StepFinished(StepResult(step, None, exc.message, exc.hint)))

    def on_step_finished(self, message: StepFinished) -> None:
        result = message.result
        stopped = result.stopped or (self.control is not None and self.control.stopped)
        self.step_running = None
        if self.control is not None:
            self.control.detach()
        self.control = None
        tally = self.bridge.end_tally()
        if stopped or tally.not_sent_total:
            line = stop_summary(result.step, tally, stopped=stopped)
            self.bridge.note("warning", line)  # the log file hears it too
            self.notify(line, timeout=8)
        self._flush_bridge()
        if stopped or tally.not_sent_total:
            self._mark_not_started(result.step, tally)
        waits = result.state is not None and result.state.status == StepStatus.WAITING_TIME
        failed = result.state is not None and result.state.status == StepStatus.FAILED
        if self.news is not None and ((result.error and not waits) or failed):
            state = result.state
            self.news.failed(result.step, result.error or (state.summary if state else ""))
        self.main.step_finished(result)

    def _mark_not_started(self, step: StepId, tally: Tally) -> None:
        """The rows whose writes never went out read "not started" (not "pending", nor the
        "skipped" of a request that was sent and not finished)."""
        if self.engine is None or self.engine.plan is None or not tally.not_sent:
            return
        marks: dict[str, dict[str, str]] = {}
        for action in self.engine.plan.for_step(step):
            table = ACTION_TABLE.get(action.action, ("", ""))[0]
            if action.action in tally.not_sent and table:
                rows = self.main.pane.table(table)
                if rows.status_of(action.object_id) == "pending":
                    marks.setdefault(table, {})[action.object_id] = "not-sent"
        self.main.pane.mark(marks)

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

    # -- a worker that fails ---------------------------------------------------------------------

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
