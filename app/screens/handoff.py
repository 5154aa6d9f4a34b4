"""The handoff screen: a part no API can do. The link and click path from the article, the live
watch of what must change (each subscription's state and countdown) and, only in the sandbox,
a key that plays the admin center's part so the demo can finish."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer

from services.i18n import _
from services.models import Handoff, StepId
from widgets import HandoffView

from .full_text import FullTextModal, row_text

if TYPE_CHECKING:
    from app.controller import Controller


class HandoffScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", _("Close"), id="close"),
        Binding("c", "copy_link", _("Copy link"), id="copy-link"),
        Binding("A", "play_portal", _("Play admin center (sandbox)"), id="play-portal"),
        Binding("enter", "show_item", _("Show the row whole"), id="show-item", show=False),
    ]

    def __init__(self, handoff: Handoff, controller: Controller) -> None:
        super().__init__(id="handoff")
        self.handoff = handoff
        self.controller = controller

    @property
    def step(self) -> StepId:
        return self.handoff.step

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield HandoffView(id="handoff-view")
        yield Footer()

    def on_mount(self) -> None:
        self.update(self.handoff)

    def update(self, handoff: Handoff) -> None:
        self.handoff = handoff
        view = self.query_one(HandoffView)
        server_now = self.controller.server_now()
        if server_now is not None:
            view.set_now(server_now)
        view.set_handoff(handoff)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "play_portal":
            return self.controller.has_portal
        return True

    def action_close(self) -> None:
        self.dismiss(None)

    def action_show_item(self) -> None:
        """The watched item under the cursor, every column whole (its note is cut at 80)."""
        view = self.query_one(HandoffView)
        key = view.cursor_item()
        cells = view.item_cells(key) if key is not None else []
        if cells:
            self.app.push_screen(FullTextModal(cells[0][1], row_text(cells)))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # Enter with the table focused: the table's own binding answers, not the screen's.
        event.stop()
        self.action_show_item()

    def action_copy_link(self) -> None:
        self.app.copy_to_clipboard(self.handoff.link)
        self.notify(_("Link copied (if your terminal allows OSC 52)."), timeout=3)

    def action_play_portal(self) -> None:
        self.controller.play_portal(self.step)
