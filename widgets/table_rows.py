"""The rows behind :class:`~widgets.remaining_table.RemainingTable`: one compact record per object.

Owns what a row is (its plain cell values and its status word), the words each status shows, the
maps and lists DataTable keeps per row as views over the rows shown, and where the cursor goes
when rows disappear. Kept apart from the widget so that the widget module holds only how the
table is drawn and updated; why rows are this small is in the widget module's docstring.
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
        # A stop's words, short enough for the status column: sent and left unfinished (a
        # retry was due), and never sent: the row reads as it did before the run, "not
        # started" (not "skipped", not "unsent": nothing was tried on it).
        "skipped": _("stopped"),
        # Translators: a row a stopped run never sent; at most 11 characters.
        "not-sent": _("not started"),
        "unknown": _("unknown"),
        "kept": _("kept"),
        # Translators: kept, and step 4 leaves its MFA on; at most 11 characters.
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

    A row keeps its plain values (``str``, or a shared ``Text``), its status word and where it
    is shown (``index``, -1 while the filter hides it); the ``Text`` of a ``str`` cell is made
    when the DataTable asks for it, i.e. for the rows it draws. Its key, and DataTable's
    ``RowKey`` and ``Row`` records, are made only when asked for (:class:`ShownRows`).
    """

    __slots__ = ("cells", "hay", "index", "layout", "status")

    def __init__(self, values: tuple[Any, ...], status: str, layout: RowLayout) -> None:
        self.cells = values  # not "values": that is Mapping's method
        self.status = status
        self.layout = layout
        self.index = -1
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


Key = RowKey | str
"""DataTable looks rows up by ``RowKey``; one hashes and compares as its string does."""


class ShownRows:
    """The rows shown, in order, as the maps and lists DataTable keeps per row.

    DataTable holds a ``RowKey`` and a ``Row`` per row and four maps and lists of them (cells
    by key, rows by key, key <-> index both ways, rows in order): ~40 MB and 200,000 objects
    for the garbage collector at 100,000 rows. Here they are views over the store's entries and
    the keys shown, and a key or ``Row`` is made when DataTable asks for one (for the rows it
    draws, the cursor's). Every row is one line high.
    """

    __slots__ = ("entries", "keys")

    def __init__(self, entries: dict[str, RowEntry], keys: list[str]) -> None:
        self.entries = entries
        self.keys = keys

    def index(self, key: Key) -> int | None:
        entry = self.entries.get(key)  # type: ignore[arg-type]
        return None if entry is None or entry.index < 0 else entry.index

    def row_key(self, index: int) -> RowKey | None:
        return RowKey(self.keys[index]) if 0 <= index < len(self.keys) else None


class _View:
    """A view of the rows shown, as long as the rows shown."""

    __slots__ = ("_shown",)

    def __init__(self, shown: ShownRows) -> None:
        self._shown = shown

    def __len__(self) -> int:
        return len(self._shown.keys)


class _ByKey(_View):
    """A view of the rows shown by DataTable's key, iterated as those keys."""

    __slots__ = ()

    def __iter__(self) -> Iterator[RowKey]:
        return map(RowKey, self._shown.keys)

    def _entry(self, key: Key) -> RowEntry:
        if self._shown.index(key) is None:
            raise KeyError(key)
        return self._shown.entries[key]  # type: ignore[index]


class ShownCells(_ByKey, Mapping[Key, RowEntry]):
    """DataTable's ``_data``: each shown row's cells by key."""

    __slots__ = ()

    def __getitem__(self, key: Key) -> RowEntry:
        return self._entry(key)


class ShownMetas(_ByKey, Mapping[Key, Row]):
    """DataTable's ``rows``: each shown row's record (key, height 1, no label) by key."""

    __slots__ = ()

    def __getitem__(self, key: Key) -> Row:
        self._entry(key)
        return Row(key if isinstance(key, RowKey) else RowKey(key), 1)


class ShownLocations(_ByKey):
    """DataTable's ``_row_locations`` (a two-way key <-> index map), read only."""

    __slots__ = ()

    def get(self, key: Key) -> int | None:
        return self._shown.index(key)

    def get_key(self, index: int) -> RowKey | None:
        return self._shown.row_key(index)

    def contains_value(self, index: int) -> bool:
        return 0 <= index < len(self._shown.keys)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, RowKey | str) and self._shown.index(key) is not None


_ONE_LINE = Row(RowKey("\x00"), 1)


class ShownOrder(_View, Sequence[Row]):
    """DataTable's ``ordered_rows``. A slice is read only for its rows' heights (a row's y, a
    page's rows: textual 8.2.8), so it repeats one shared one-line ``Row`` rather than making
    up to 100,000 of them for a cursor move."""

    __slots__ = ()

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> list[Row]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [_ONE_LINE] * len(range(*index.indices(len(self._shown.keys))))
        return Row(RowKey(self._shown.keys[index]), 1)


class LineOffsets(_View, Sequence[tuple[RowKey, int]]):
    """DataTable's line -> (row key, line within the row) list, for rows one line high each."""

    __slots__ = ()

    @overload
    def __getitem__(self, index: int) -> tuple[RowKey, int]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[RowKey, int]]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [(RowKey(key), 0) for key in self._shown.keys[index]]
        return (RowKey(self._shown.keys[index]), 0)


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
