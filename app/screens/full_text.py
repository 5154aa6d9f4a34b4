"""A modal that shows one text whole, wrapped and scrollable: a log line, or every cell of a
table row, that the panes show cut to their width. Escape, Enter or q closes it."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

from services.i18n import _


class FullTextModal(ModalScreen[None]):
    """``title`` above ``body`` (shown literally, never as markup), wrapped to the dialog."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", _("Close"), id="close"),
        Binding("enter", "close", _("Close"), show=False),
        Binding("q", "close", _("Close"), show=False),
    ]

    def __init__(self, title: str, body: str, *, id: str = "full-text") -> None:
        super().__init__(id=id)
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title", markup=False)
            with VerticalScroll(id="full-text-scroll"):
                yield Static(self._body, classes="dialog-body", markup=False, id="full-text-body")
        yield Footer()

    @property
    def body(self) -> str:
        return self._body

    def action_close(self) -> None:
        self.dismiss(None)


def row_text(cells: list[tuple[str, str]]) -> str:
    """Every cell of a row as ``label: value`` lines."""
    return "\n".join(f"{label}: {value}" for label, value in cells if value)
