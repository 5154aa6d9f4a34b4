"""How the app ends: quitting (asking first while a step runs, then stopping it between
batches), ending the journal's run with the exit code, and a terminal that goes away or a
SIGTERM (stop between batches, exit 3)."""

from __future__ import annotations

import logging

from rich.text import Text
from textual.driver import Driver

from . import terminal
from .screens.dialogs import quit_guard
from .step_runs import StepRuns
from .texts import waits_go_on

log = logging.getLogger("closeout.app")

NEWS_CLOSE_SECONDS = 2.0
"""How long quitting waits for ``--notify`` to take the last news (done, failed)."""


class Leaving(StepRuns):
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
        if self.news is not None:
            self.news.ended(code)  # news only if done or failed
            self.news.notifier.close(NEWS_CLOSE_SECONDS)
        # Said on the terminal after the app is gone: the waits go on without closeout. Not
        # to a terminal that is gone: writing there would fail the exit.
        if self._terminal_lost is None:
            self.goodbye = waits_go_on(
                list(self.step_states.values()), self.graph_wait_until, self.relaunch
            )
        # return_code too: Textual leaves it 0 unless told, and sets 1 only for a crash.
        self.exit(code, return_code=code, message=Text(self.goodbye) if self.goodbye else None)

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
