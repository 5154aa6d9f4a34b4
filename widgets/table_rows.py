"""The rows behind :class:`~widgets.remaining_table.RemainingTable`: one compact record per object.

Owns what a row is (its plain cell values and its status word), the words each status shows, the
line-offset view DataTable reads, and where the cursor goes when rows disappear. Kept apart from
the widget so that the widget module holds only how the table is drawn and updated; why rows are
this small is in the widget module's docstring.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, overload

from rich.text import Text
from textual.widgets.data_table import ColumnKey, Row, RowKey

from services.i18n import _

ColumnSpec = tuple[str, str, int]
"""``(key, label, width)``; the width is fixed so no cell is ever measured."""

FINAL_STATUSES = frozenset({"deleted", "done", "gone"})
"""Statuses that mean "nothing left to do": dimmed, counted as finished, dropped by ``compact``."""

STYLE_CLASS = {
    "deleted": "remaining-table--done",
    "done": "remaining-table--done",
    "gone": "remaining-table--done",
    "failed": "remaining-table--failed",
    "skipped": "remaining-table--skipped",
    "not-sent": "remaining-table--skipped",
    "unknown": "remaining-table--skipped",
}


def status_label(status: str) -> str:
    """The word shown for a status value (translated; unknown values are shown as they are)."""
    labels = {
        "pending": _("pending"),
        "queued": _("queued"),
        "running": _("running"),
        "deleting": _("deleting"),
        "deleted": _("deleted"),
        "done": _("done"),
        "gone": _("gone"),
        "failed": _("failed"),
        # A stop's words, as its summary line says them, short enough for the status column:
        # sent and left unfinished (a retry was due), and never sent (not "skipped").
        "skipped": _("stopped"),
        "not-sent": _("unsent"),
        "unknown": _("unknown"),
        "kept": _("kept"),
        # Translators: kept, and step 4 leaves its MFA on; at most 9 characters.
        "kept-mfa": _("kept+MFA"),
        "active": _("active"),
        "expired": _("expired"),
        "disabled": _("disabled"),
        "report": _("report"),
    }
    return labels.get(status, status)


class RowLayout:
    """What every row of one table shares: where each column's value is, and the status words."""

    __slots__ = ("index", "status_index", "status_text")

    def __init__(
        self,
        column_keys: Sequence[ColumnKey],
        status_index: int,
        status_text: Callable[[str], Text],
    ) -> None:
        self.index = {key: i for i, key in enumerate(column_keys)}
        self.status_index = status_index
        self.status_text = status_text


class RowEntry(Mapping[ColumnKey, Any]):
    """One row of the store, and the very mapping the DataTable renders it from.

    A row keeps its plain values (``str``, or a shared ``Text``) and its status word; the
    ``Text`` of a ``str`` cell is made when the DataTable asks for it, i.e. for the rows it
    draws. 100,000 rows held a dict and a ``Text`` (three objects) per row: ~90 MB and 800,000
    objects for the cyclic garbage collector to walk, where these are ~40 MB and 300,000.
    """

    __slots__ = ("cells", "hay", "key", "layout", "meta", "status")

    def __init__(
        self, key: RowKey, values: tuple[Any, ...], status: str, layout: RowLayout
    ) -> None:
        self.key = key
        self.meta = Row(key, 1)
        self.cells = values  # not "values": that is Mapping's method
        self.status = status
        self.layout = layout
        self.hay: str | None = None

    def __getitem__(self, column: ColumnKey) -> Any:
        layout = self.layout
        index = layout.index[column]
        if index == layout.status_index:
            return layout.status_text(self.status)
        value = self.cells[index]
        # A str is never markup; one cut by its column ends in "…", so that a cut UPN never
        # reads as another one ("…@fabrikam.onmicrosoft.co").
        return Text(value, no_wrap=True, overflow="ellipsis") if isinstance(value, str) else value

    def __iter__(self) -> Iterator[ColumnKey]:
        return iter(self.layout.index)

    def __len__(self) -> int:
        return len(self.layout.index)

    def plain(self) -> Iterator[str]:
        """The text of every cell but the status, in column order."""
        for index, value in enumerate(self.cells):
            if index != self.layout.status_index:
                yield value if isinstance(value, str) else value.plain


class LineOffsets(Sequence[tuple[RowKey, int]]):
    """DataTable's line → (row key, line within the row) list, for rows one line high each:
    read from the rows in place instead of a tuple per row built at every rebuild."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list[Row]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> tuple[RowKey, int]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[RowKey, int]]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [(row.key, 0) for row in self._rows[index]]
        return (self._rows[index].key, 0)


def successor_index(old_visible: list[str], old_row: int, visible: list[str]) -> int:
    """Index in ``visible`` of the old cursor row, else of the nearest row after it, else before."""
    if not old_visible or not visible:
        return 0
    position = {key: index for index, key in enumerate(visible)}
    old_row = min(old_row, len(old_visible) - 1)
    for key in old_visible[old_row:]:
        if key in position:
            return position[key]
    for key in reversed(old_visible[:old_row]):
        if key in position:
            return position[key]
    return 0
