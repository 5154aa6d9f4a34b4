"""The end of the close-out, and the evidence pack on demand: once the tenant is found gone,
the main screen stops counting what the last read listed, an evidence pack of every run is
written, and the completion view says what it holds; ``e`` (here or on the completion view)
writes a pack again, each in a folder of its own (``misc`` worker group)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from services.errors import CloseoutError
from services.i18n import _

from .leaving import Leaving
from .messages import Completed, EvidenceWritten
from .screens.completion import CompletionScreen

if TYPE_CHECKING:
    from pathlib import Path

    from services.engine import Engine


class Completing(Leaving):
    def complete_if_gone(self) -> None:
        """If the tenant is gone, the completion view (once)."""
        if self.engine is None or not self.engine.gone or self._completed:
            return
        self._completed = True
        self.main.tenant_deleted()
        self._completion_worker(self.engine)

    @work(thread=True, group="misc", exit_on_error=False, name="completion")
    def _completion_worker(self, engine: Engine) -> None:
        """The evidence pack of every run, then the completion view, which says what the pack
        says."""
        from .completion import read_completion

        path = self._write_pack(engine)
        if path is None:
            return
        try:
            self.post_message(Completed(read_completion(path)))
        except (OSError, ValueError) as exc:
            self._say_failed(_("Could not read the evidence pack: {error}").format(error=exc))

    def on_completed(self, message: Completed) -> None:
        if any(isinstance(s, CompletionScreen) for s in self.screen_stack):
            return
        # Over the main screen: a handoff left open above it (step 5's) is over, and Esc
        # from the completion view goes back to the log.
        while len(self.screen_stack) > 1 and self.screen is not self.main:
            self.pop_screen()
        self.push_screen(CompletionScreen(message.completion, self.main.controller))

    def export_evidence(self) -> None:
        if self.engine is not None:
            self._export_worker(self.engine)

    @work(thread=True, group="misc", exit_on_error=False, name="export")
    def _export_worker(self, engine: Engine) -> None:
        path = self._write_pack(engine)
        if path is not None:
            self.post_message(EvidenceWritten(path))

    def on_evidence_written(self, message: EvidenceWritten) -> None:
        self.notify(_("Evidence pack: {path}").format(path=message.path), timeout=8)
        for screen in self.screen_stack:
            if isinstance(screen, CompletionScreen):
                screen.show_pack(message.path)

    def _write_pack(self, engine: Engine) -> Path | None:
        """A pack of every run in a folder of its own (on a worker's thread); None, said in
        the log and a notification, if it could not be written."""
        from .completion import export_dir

        try:
            path = engine.write_evidence(export_dir(engine), all_runs=True)
        except (OSError, ValueError, CloseoutError) as exc:
            self._say_failed(_("Could not write the evidence pack: {error}").format(error=exc))
            return None
        self.bridge.line("info", _("Evidence pack written to {path}").format(path=path))
        return path

    def _say_failed(self, text: str) -> None:
        self.bridge.note("error", text)
        self.notify(text, severity="error", timeout=15)
