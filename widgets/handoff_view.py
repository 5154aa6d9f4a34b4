"""A hand-off: a part of the close-out that no API can do, and what closeout watches meanwhile.

Owns how a ``Handoff`` reads: its title, the link (visible and OSC 8), the numbered click path,
the notes, and a live table of the watched items with the time left until each is due (for
subscriptions: the product name, and the SKU code in a column of its own). The countdowns tick
every second against the server's clock as last given by ``set_now``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from services.durations import time_left
from services.i18n import _
from services.models import Handoff, HandoffItem


def format_remaining(until: datetime | None, now: datetime) -> str:
    """Time left until ``until``: ``2d 4h``, ``3h 12m``, ``12m 05s``, ``45s``, ``due``, or ``-``."""
    if until is None:
        return "-"
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    return time_left(until, now)


class HandoffView(VerticalScroll):
    """Renders one ``Handoff``; ``set_handoff`` replaces it, ``set_now`` syncs the clock."""

    DEFAULT_CSS = """
    HandoffView {
        height: auto;
        max-height: 100%;
        & > Static { width: 1fr; margin-bottom: 1; }
        #handoff-title { text-style: bold; }
        #handoff-done { display: none; text-style: bold reverse; color: $success; }
        &.-done #handoff-done { display: block; }
        #handoff-items { height: auto; }
    }
    """

    def __init__(
        self,
        handoff: Handoff | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._handoff = handoff
        self._skew = timedelta(0)
        self._with_sku = False
        """Whether the items table has the SKU column (its items are subscriptions)."""
        self._ready = False
        """Set on mount, once the children exist (``is_mounted`` turns True only after
        ``on_mount`` has returned)."""

    @property
    def handoff(self) -> Handoff | None:
        return self._handoff

    def now(self) -> datetime:
        """The server's time as last given to ``set_now``, advanced by the local clock."""
        return datetime.now(UTC) + self._skew

    def set_now(self, now: datetime) -> None:
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        self._skew = now - datetime.now(UTC)
        self._tick()

    def remaining_text(self, object_id: str) -> str:
        """The countdown shown for one item (what the table's "Time left" cell says)."""
        for item in self._handoff.items if self._handoff else ():
            if item.object_id == object_id:
                return format_remaining(item.until, self.now())
        raise KeyError(object_id)

    def item_cells(self, object_id: str) -> list[tuple[str, str]]:
        """``(column, whole text)`` of one watched item, as its row shows them cut: the
        note (a partner to contact, a check's detail) is the last column, off screen at 80."""
        for item in self._handoff.items if self._handoff else ():
            if item.object_id == object_id:
                cells = [
                    (_("Watching"), (item.name or item.label) if self._with_sku else item.label),
                    (_("State"), item.state),
                    (_("Time left"), format_remaining(item.until, self.now())),
                ]
                if self._with_sku and item.product:
                    cells.append((_("SKU"), item.product.sku_part_number))
                return [*cells, (_("Note"), item.note)]
        return []

    def cursor_item(self) -> str | None:
        """The object id of the watched item under the table's cursor (None: no items)."""
        table: DataTable[Text] = self.query_one("#handoff-items", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def compose(self) -> ComposeResult:
        yield Static(id="handoff-title", markup=False)
        yield Static(_("Done: closeout sees the change in Graph."), id="handoff-done")
        yield Static(id="handoff-link", markup=False)
        # The live watch before the click path: at 80x24 it must be in view without scrolling.
        table: DataTable[Text] = DataTable(id="handoff-items", cursor_type="row")
        self._add_columns(table)
        yield table
        yield Static(id="handoff-steps", markup=False)
        yield Static(id="handoff-notes", markup=False)

    def _add_columns(self, table: DataTable[Text]) -> None:
        # Subscriptions: the product name first and the SKU code after the countdown, so that
        # at 80 columns name, state and time left are what stays in view.
        table.add_column(_("Watching"), key="label", width=34 if self._with_sku else 30)
        table.add_column(_("State"), key="state", width=12)
        table.add_column(_("Time left"), key="left", width=10)
        if self._with_sku:
            table.add_column(_("SKU"), key="sku", width=22)
        table.add_column(_("Note"), key="note", width=64)

    def on_mount(self) -> None:
        self._ready = True
        self.set_interval(1.0, self._tick)
        self._show()

    def set_handoff(self, handoff: Handoff | None) -> None:
        self._handoff = handoff
        self._show()

    def _show(self) -> None:
        if not self._ready:
            return
        handoff = self._handoff
        self.set_class(bool(handoff and handoff.done), "-done")
        title = self.query_one("#handoff-title", Static)
        link = self.query_one("#handoff-link", Static)
        steps = self.query_one("#handoff-steps", Static)
        notes = self.query_one("#handoff-notes", Static)
        if handoff is None:
            for widget in (title, link, steps, notes):
                widget.update("")
            self._load_items(())
            return
        title.update(Text(handoff.title))
        link.update(
            Text.assemble(_("Open: "), (handoff.link, Style(link=handoff.link, underline=True)))
        )
        steps.update(
            Text("\n".join(f"{n}. {step}" for n, step in enumerate(handoff.click_path, 1)))
        )
        notes.update(Text("\n".join(handoff.notes)))
        notes.display = bool(handoff.notes)
        self._load_items(handoff.items)

    def _load_items(self, items: tuple[HandoffItem, ...]) -> None:
        table: DataTable[Text] = self.query_one("#handoff-items", DataTable)
        table.display = bool(items)
        now = self.now()
        with_sku = any(item.product for item in items)
        if with_sku != self._with_sku:
            self._with_sku = with_sku
            table.clear(columns=True)
            self._add_columns(table)
        keys = [item.object_id for item in items]
        if [key.value for key in table.rows] == keys:
            # Same items: update in place so the cursor and scroll stay where the reader is.
            for item in items:
                table.update_cell(item.object_id, "state", Text(item.state))
                table.update_cell(item.object_id, "left", Text(format_remaining(item.until, now)))
                table.update_cell(item.object_id, "note", Text(item.note))
            return
        table.clear()
        for item in items:
            sku = [Text(item.product.sku_part_number if item.product else "")] if with_sku else []
            table.add_row(
                Text((item.name or item.label) if with_sku else item.label),
                Text(item.state),
                Text(format_remaining(item.until, now)),
                *sku,
                Text(item.note),
                key=item.object_id,
            )

    def _tick(self) -> None:
        if not self._ready or self._handoff is None:
            return
        table: DataTable[Text] = self.query_one("#handoff-items", DataTable)
        now = self.now()
        for item in self._handoff.items:
            if item.until is not None and item.object_id in table.rows:
                table.update_cell(item.object_id, "left", Text(format_remaining(item.until, now)))
