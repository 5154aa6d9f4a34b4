"""The completion view: shown once the tenant is gone, in place of the tables that described
it. It says which tenant is deleted, when closeout found it so and on what grounds, what each
step did (from the evidence pack just written), and where that pack is; ``e`` writes the pack
again, Esc goes back to the main screen (its log), ``q`` quits."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from services.i18n import _

if TYPE_CHECKING:
    from pathlib import Path

    from app.completion import Completion
    from app.controller import Controller


class CompletionScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "export", _("Export again"), id="export-again"),
        Binding("escape", "back", _("Log"), id="back"),
        Binding("q", "quit", _("Quit"), id="quit"),
    ]

    def __init__(self, completion: Completion, controller: Controller) -> None:
        super().__init__(id="completion")
        self.completion = completion
        self.controller = controller

    def compose(self) -> ComposeResult:
        done = self.completion
        with VerticalScroll(id="completion-body"):
            yield Static(
                _("The tenant is deleted. The close-out is complete."), id="completion-title"
            )
            yield Static(Text(done.tenant), id="completion-tenant")
            yield Static(Text(done.found_gone), id="completion-when")
            # The pack first: at 80x24 its folder is in view without scrolling.
            yield Static(_("Evidence pack"), classes="completion-heading")
            yield Static(id="completion-pack")
            yield Static(_("What was done"), classes="completion-heading")
            for step in done.steps:
                yield Static(Text("√ " + step.heading), classes="completion-step")
                yield Static(Text("\n".join(step.lines)), classes="completion-lines")
            if done.subscriptions:
                yield Static(_("Subscriptions"), classes="completion-heading")
                yield Static(Text("\n".join(done.subscriptions)), classes="completion-lines")
            if done.kept:
                yield Static(Text(done.kept), id="completion-kept")
        yield Footer()

    def on_mount(self) -> None:
        self.show_pack(self.completion.pack)
        self.query_one("#completion-body").focus()  # the arrows scroll what was done

    @property
    def pack_text(self) -> str:
        return str(self.query_one("#completion-pack", Static).render())

    def show_pack(self, path: Path) -> None:
        """The pack's folder in full (never cut: it wraps), and how to write it again."""
        line = Text(str(path))
        line.append("\n" + _("e writes it again, with every run closeout recorded."))
        self.query_one("#completion-pack", Static).update(line)

    def action_export(self) -> None:
        self.controller.export_evidence()

    def action_back(self) -> None:
        self.dismiss(None)

    async def action_quit(self) -> None:
        await self.controller.request_quit()
