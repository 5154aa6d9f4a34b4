"""The "what is left" table: one row per object still to handle, keyed by object id.

Owns the row store behind the table (which rows, in which order, the filter; a row itself is a
:mod:`widgets.table_rows` record) and the fast paths that let it hold 50,000+ rows. The app
marks rows as they are handled (``mark``) and drops the finished ones once (``compact``); it
never removes rows one by one.

Why this reaches into ``DataTable`` internals: in textual 8.2.8 ``add_row`` costs ~40 µs per row and
the idle pass after it measures every cell of every new row (~140 µs per row), *even for
fixed-width columns*, so 50,000 rows blocked the loop for ~9 s; and every ``update_cell`` bumps the
table's update counter, which makes the next frame rebuild the row-offset list in O(rows)
(~0.25 s at 50,000 rows, per flush). Rows here are always one line high and every column has a
fixed width, so nothing needs measuring: the store installs the rows shown in one pass and
forgets only the rendering of the rows that changed. Each row is its own cell mapping (plain
values, a ``Text`` made only when the row is drawn), and DataTable's maps and lists of rows are
views over the rows shown (:class:`~widgets.table_rows.ShownRows`), so 100,000 rows are one
small object each, not nine. Every internal touched is in ``__init__``, ``_install_rows``, the
two list overrides and ``_invalidate_rows``; textual is pinned exactly and
tests/tui/test_widgets.py exercises each of them.
"""

from __future__ import annotations

from collections.abc import Iterable, KeysView, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

from rich.style import Style
from rich.text import Text
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, Row, RowKey

from widgets.column_fit import fit_columns, next_column_x
from widgets.table_rows import (
    FINAL_STATUSES,
    STYLE_CLASS,
    ColumnSpec,
    LineOffsets,
    RowEntry,
    RowLayout,
    ShownCells,
    ShownLocations,
    ShownMetas,
    ShownOrder,
    ShownRows,
    status_label,
    successor_index,
)

if TYPE_CHECKING:
    from typing import Self

__all__ = ["FINAL_STATUSES", "ColumnSpec", "RemainingTable", "status_label"]


class RemainingTable(DataTable[Text]):
    """A keyed, filterable table of remaining objects with a styled, fixed-width status column.

    Use ``load``, ``mark``, ``compact`` and ``set_filter``; DataTable's own row mutators
    (``add_row``, ``remove_row``, ``clear``, ``sort``) would bypass the store and are refused.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = DataTable.COMPONENT_CLASSES | {
        "remaining-table--done",
        "remaining-table--failed",
        "remaining-table--skipped",
    }

    DEFAULT_CSS = """
    RemainingTable > .remaining-table--done {
        text-style: dim;
    }
    RemainingTable > .remaining-table--failed {
        color: $error;
        text-style: bold;
    }
    RemainingTable > .remaining-table--skipped {
        color: $warning;
    }
    """

    def __init__(
        self,
        columns: Sequence[ColumnSpec],
        *,
        status_column: str = "status",
        min_widths: Mapping[str, int] | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        # Read by DataTable.__init__ through the ordered_rows / _y_offsets overrides below.
        self._shown = ShownRows({}, [])
        self._order = ShownOrder(self._shown)
        self._offsets = LineOffsets(self._shown)
        super().__init__(
            cursor_type="row",
            show_row_labels=False,
            name=name,
            id=id,
            classes=classes,
            disabled=disabled,
        )
        keys = [key for key, _label, _width in columns]
        if status_column not in keys:
            raise ValueError(f"status column {status_column!r} is not among {keys}")
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate column keys in {keys}")
        self._specs: tuple[ColumnSpec, ...] = tuple(columns)
        self._column_keys = tuple(ColumnKey(key) for key in keys)
        self._status_index = keys.index(status_column)
        self._status_key = self._column_keys[self._status_index]
        self._entries: dict[str, RowEntry] = {}
        self._visible: list[str] = []
        self._filter = ""
        self._final = 0
        self._total = 0
        self._status_texts: dict[str, Text] = {}
        self._layout = RowLayout(self._column_keys, self._status_index, self._status_text)
        self._applied_styles: dict[str, Style] = {}
        self._columns_ready = False
        self._min_widths = dict(min_widths or {})
        self._natural: list[int] = []  # and the least each column shrinks to:
        self._minimum: list[int] = []
        self._drawn: set[str] = set()
        """Keys of the rows drawn since they last changed (what the render caches may hold)."""

    # -- public API ------------------------------------------------------------------------

    @property
    def remaining(self) -> int:
        """Rows whose status is not final (filter-independent; compacted rows are not counted)."""
        return len(self._entries) - self._final

    @property
    def total(self) -> int:
        """Rows given to the last ``load`` (``compact`` does not change it)."""
        return self._total

    @property
    def filter_text(self) -> str:
        return self._filter

    @property
    def cursor_key(self) -> str | None:
        """The object id under the cursor, or None when the table shows no rows."""
        if not self._visible:
            return None
        return self._visible[min(self.cursor_row, len(self._visible) - 1)]

    def shown_keys(self) -> list[str]:
        """The object ids of the rows shown now (the filter applied), in order."""
        return list(self._visible)

    def row_cells(self, key: str) -> list[tuple[str, str]]:
        """``(column label, whole text)`` of every cell of a row, the status in words; empty
        for an unknown key. For showing a row that the columns cut, in full."""
        entry = self._entries.get(key)
        if entry is None:
            return []
        cells = []
        for index, (_key, label, _width) in enumerate(self._specs):
            if index == self._status_index:
                cells.append((label, status_label(entry.status)))
            else:
                value = entry.cells[index]
                cells.append((label, value if isinstance(value, str) else value.plain))
        return cells

    def keys(self) -> KeysView[str]:
        """Every object id in the store (all statuses, filter-independent); supports set ops."""
        return self._entries.keys()

    def status_of(self, key: str) -> str | None:
        entry = self._entries.get(key)
        return None if entry is None else entry.status

    def load(self, rows: Iterable[tuple[str, Sequence[str | Text]]]) -> None:
        """Replace the contents, keeping the cursor on the same object if it is still there.

        Cells are in column order; a ``str`` is shown literally, never as markup (its ``Text``
        is made only when the row is drawn: pass ``str``, or one ``Text`` shared by many rows).
        A missing status cell means "pending". Cost is ~15 µs a row on the loop (50,000 rows
        ≈ 0.75 s).
        """
        width = len(self._column_keys)
        status_index = self._status_index
        layout = self._layout
        entries: dict[str, RowEntry] = {}
        final = 0
        for key, cells in rows:
            count = len(cells)
            if count > width:
                raise ValueError(f"row {key!r} has {count} cells for {width} columns")
            if key in entries:
                raise ValueError(f"duplicate row key {key!r}")
            raw = cells[status_index] if count > status_index else "pending"
            status = raw.plain if isinstance(raw, Text) else raw
            values = tuple(cells) if count == width else (*cells, *([""] * (width - count)))
            entries[key] = RowEntry(values, status, layout)
            final += status in FINAL_STATUSES
        self._entries = entries
        self._final = final
        self._total = len(entries)
        self._rebuild()

    def mark(self, updates: Mapping[str, str]) -> int:
        """Set the status of many rows in one batch; O(len(updates)) plus one repaint at most.

        Unknown keys (never loaded, or already compacted away) are ignored. Returns how many rows
        changed.
        """
        entries = self._entries
        shown: dict[int, str] = {}
        changed = 0
        for key, status in updates.items():
            entry = entries.get(key)
            if entry is None or entry.status == status:
                continue
            self._final += (status in FINAL_STATUSES) - (entry.status in FINAL_STATUSES)
            entry.status = status
            changed += 1
            if entry.index >= 0:
                shown[entry.index] = key
        if shown and self._columns_ready:
            self._invalidate_rows(shown)
        return changed

    def compact(self) -> int:
        """Drop every row whose status is final, in one rebuild. Returns how many were dropped."""
        before = len(self._entries)
        self._entries = {
            key: entry for key, entry in self._entries.items() if entry.status not in FINAL_STATUSES
        }
        self._final = 0
        dropped = before - len(self._entries)
        if dropped:
            self._rebuild()
        return dropped

    def set_filter(self, text: str) -> None:
        """Show only rows where some cell (or the status word) contains ``text``, ignoring case.

        The filter is applied now and again on ``load`` and ``compact``; a row whose status
        changes afterwards stays shown until then. Costs O(rows): debounce keystrokes.
        """
        needle = text.strip().casefold()
        if needle != self._filter:
            self._filter = needle
            self._rebuild()

    # -- refused DataTable mutators (they would desynchronise the store) ------------------

    def add_row(self, *cells: Any, **kwargs: Any) -> RowKey:
        raise TypeError("RemainingTable: use load(), not add_row()")

    def remove_row(self, row_key: RowKey | str) -> None:
        raise TypeError("RemainingTable: use mark() and compact(), not remove_row()")

    def sort(self, *columns: Any, **kwargs: Any) -> Any:
        raise TypeError("RemainingTable keeps load order; sort the rows before load()")

    def clear(self, columns: bool = False) -> Self:
        if columns:
            raise TypeError("RemainingTable: columns are fixed at construction")
        self.load(())
        return self

    # -- internals -------------------------------------------------------------------------

    def on_mount(self) -> None:
        for (key, label, width), column_key in zip(self._specs, self._column_keys, strict=True):
            if column_key == self._status_key:
                # Fixed width wide enough for every known status word, so no word is cut.
                width = max(width, *(len(status_label(s)) for s in (*STYLE_CLASS, "pending")))
            self.add_column(Text(label), key=key, width=width)
            # A column may shrink to its minimum, never below its header.
            least = max(self._min_widths.get(key, width), Text(label).cell_len)
            self._natural.append(width)
            self._minimum.append(min(least, width))
        self._columns_ready = True
        self._rebuild()

    # → and ← move a column at a time (a cell at a time took 26 presses to reach the roles).

    def action_cursor_right(self) -> None:
        self._scroll_to_column(1)

    def action_cursor_left(self) -> None:
        self._scroll_to_column(-1)

    def _scroll_to_column(self, step: int) -> None:
        widths = [self.columns[key].get_render_width(self) for key in self._column_keys]
        x = next_column_x(widths, round(self.scroll_x), step)
        if x is not None:
            self.scroll_to(x=min(x, self.max_scroll_x), animate=False)

    def on_resize(self) -> None:
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Fit the columns to the rows' width (:mod:`widgets.column_fit`): the pane's, less
        the vertical scrollbar when one shows (so this is its watcher too)."""
        room = self.scrollable_content_region.width
        if not self._columns_ready or room <= 0:
            return
        widths = fit_columns(self._natural, self._minimum, room, padding=self.cell_padding)
        columns = [self.columns[key] for key in self._column_keys]
        if [c.width for c in columns] == widths:
            return
        for column, width in zip(columns, widths, strict=True):
            column.width = width
        self._clear_caches()
        self._update_count += 1
        self._update_dimensions(())
        self.refresh()

    watch_show_vertical_scrollbar = _fit_columns

    def _status_text(self, status: str) -> Text:
        # One shared Text per status value: restyling on a theme change is one assignment per
        # status, and 50,000 rows cost no 50,000 status objects.
        text = self._status_texts.get(status)
        if text is None:
            text = Text(status_label(status), style=self._applied_styles.get(status, ""))
            self._status_texts[status] = text
        return text

    def _matches(self, entry: RowEntry, needle: str) -> bool:
        if entry.hay is None:
            entry.hay = "\x00".join(entry.plain()).casefold()
        return (
            needle in entry.hay
            or needle in entry.status.casefold()
            or needle in status_label(entry.status).casefold()
        )

    def _rebuild(self) -> None:
        """Show the store (filtered), keeping the cursor on the same object and screen line."""
        if not self._columns_ready:
            return
        needle = self._filter
        entries = self._entries
        visible = (
            [key for key, entry in entries.items() if self._matches(entry, needle)]
            if needle
            else list(entries)
        )

        old_visible = self._visible
        old_key = self.cursor_key
        old_row = self.cursor_row if old_visible else 0
        screen_line = old_row - round(self.scroll_y)
        new_row = successor_index(old_visible, old_row, visible)

        self._visible = visible
        self._install_rows(visible)
        coordinate = Coordinate(new_row, self.cursor_column)
        if coordinate == self.cursor_coordinate and visible and visible[new_row] != old_key:
            # Same index, different object: the watcher will not fire, so say it ourselves.
            self.post_message(DataTable.RowHighlighted(self, new_row, RowKey(visible[new_row])))
        self.cursor_coordinate = coordinate
        if visible:
            self.scroll_to(y=max(0, new_row - screen_line), animate=False, immediate=True)

    def _install_rows(self, visible: list[str]) -> None:
        # DataTable internals (textual 8.2.8): its row maps become views over the rows shown
        # (each row's index set here), the per-row measuring is skipped (columns are
        # fixed-width, rows one line), and the virtual size is set now so that the scroll
        # position can be restored at once. DataTable only reads these maps (by key, by index,
        # their lengths, iterating); its mutators that would write them are refused above.
        entries = self._entries
        for entry in entries.values():
            entry.index = -1
        for index, key in enumerate(visible):
            entries[key].index = index
        shown = self._shown = ShownRows(entries, visible)
        self._data = cast("dict[RowKey, dict[ColumnKey, Any]]", ShownCells(shown))
        self.rows = cast("dict[RowKey, Row]", ShownMetas(shown))
        self._row_locations = cast("Any", ShownLocations(shown))
        self._order = ShownOrder(shown)
        self._offsets = LineOffsets(shown)
        self._new_rows.clear()
        self._updated_cells.clear()
        self._clear_caches()
        self._drawn.clear()
        self._update_count += 1
        self._require_update_dimensions = False
        self._update_dimensions(())
        self.refresh()

    # DataTable rebuilds these two lists in O(rows) whenever its update counter moves (every
    # cell update, every resize). Here order and heights change only in _install_rows, so the
    # lists built there stay valid.

    @property
    def ordered_rows(self) -> list[Row]:
        # DataTable declares a list; it indexes it, slices it and takes its length.
        return cast("list[Row]", self._order)

    @property
    def _y_offsets(self) -> LineOffsets:  # type: ignore[override]
        # DataTable declares a list; it only indexes it and takes its length, which the
        # Sequence LineOffsets answers without a tuple per row.
        return self._offsets

    def _invalidate_render(self) -> None:
        # Row order and heights are unchanged by a restyle, so keep the update counter and drop
        # only what holds rendered cells.
        self._row_render_cache.clear()
        self._cell_render_cache.clear()
        self._row_renderable_cache.clear()
        self._line_cache.clear()
        self._drawn.clear()
        self.refresh()

    def _invalidate_rows(self, rows: dict[int, str]) -> None:
        """Forget the rendering of just these rows; repaint only if one of them is on screen.

        Marking must not re-render the ~20 visible rows every flush (measured ~15-30 ms a
        frame), nor bump the update counter, which would re-key every cache. Only rows drawn
        since their last change have anything in the caches: a step's marks are mostly of rows
        never drawn, and then the caches' keys (up to ~13,000) are not even looked through.
        """
        drawn = {index: key for index, key in rows.items() if key in self._drawn}
        if drawn:
            header = self.header_height if self.show_header else 0
            lines = {index + header for index in drawn}
            keys = set(drawn.values())
            self._drawn -= keys
            for cache, position, stale in (
                (self._line_cache, 0, lines),
                (self._row_render_cache, 0, keys),
                (self._cell_render_cache, 0, keys),
                (self._row_renderable_cache, 1, drawn),
            ):
                cached: Iterable[Any] = cache.keys()  # an LRUCache is not iterable itself
                for cache_key in [k for k in cached if k[position] in stale]:
                    cache.discard(cache_key)
        top = round(self.scroll_y)
        bottom = top + self.scrollable_content_region.height
        if any(top <= index < bottom for index in rows):
            self.refresh()

    def _render_line_in_row(
        self,
        row_key: RowKey,
        line_no: int,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> tuple[Any, Any]:
        # Every render cache is filled from here (DataTable, textual 8.2.8): what is drawn is
        # what _invalidate_rows must forget when it changes.
        if row_key.value is not None:
            self._drawn.add(row_key.value)
        return super()._render_line_in_row(
            row_key, line_no, base_style, cursor_location, hover_location
        )

    def _restyle_statuses(self) -> None:
        styles = {
            status: self.get_component_rich_style(component, partial=True)
            for status, component in STYLE_CLASS.items()
        }
        if styles != self._applied_styles:
            self._applied_styles = styles
            for status, text in self._status_texts.items():
                text.style = styles.get(status, "")
            self._invalidate_render()

    def render_lines(self, crop: Region) -> list[Strip]:
        # Component styles are final only once CSS is applied (and change with the theme);
        # checking here costs three cached lookups per frame.
        self._restyle_statuses()
        return super().render_lines(crop)
