"""The "what just happened" pane: one timestamped line per Graph call, batch or event.

Owns the level filter (shown in its border title) and a bounded buffer of every line written, so
that changing the level re-renders what is already known; and a line cursor (up/down while it
has focus): Enter posts the line under it, whole, for the screen to show. The app formats each
line's text (method, path, status, request id, duration); this widget adds the time and a level
tag, so that a warning or an error reads as one without colour. Lines are never merged or
skipped: ``write_many`` only renders a batch in one pass.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from datetime import datetime
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import Reactive, reactive
from textual.strip import Strip
from textual.widgets import RichLog

from services.i18n import _

LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error")


def level_name(level: str) -> str:
    """A level in words, for the border title."""
    return {
        "debug": _("debug"),
        "info": _("info"),
        "warning": _("warning"),
        "error": _("error"),
    }[level]


def level_tag(level: str) -> str:
    """Fixed-width tag shown before each line (the level in words, not only in colour)."""
    return {
        "debug": _("DEBUG"),
        "info": _("INFO"),
        "warning": _("WARN"),
        "error": _("ERROR"),
    }[level]


class LogPanel(RichLog):
    """A log of one-line events with a level filter (``min_level``, ``cycle_level``).

    The view holds at most ``max_lines`` lines; the buffer behind it keeps ``buffer_lines``
    entries of every level, so raising the level to "error" still shows older errors.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move_cursor(-1)", _("Previous line"), show=False),
        Binding("down", "move_cursor(1)", _("Next line"), show=False),
        Binding("enter", "open_line", _("Show the line whole"), show=False),
    ]

    class LineChosen(Message):
        """Enter on a line: the whole entry (time, level, text), for the screen to show."""

        def __init__(self, stamp: str, level: str, text: str) -> None:
            super().__init__()
            self.stamp = stamp
            self.level = level
            self.text = text

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "log-panel--time",
        "log-panel--debug",
        "log-panel--info",
        "log-panel--warning",
        "log-panel--error",
    }

    DEFAULT_CSS = """
    LogPanel {
        & > .log-panel--time { text-style: dim; }
        & > .log-panel--debug { text-style: dim; }
        & > .log-panel--warning { color: $warning; }
        & > .log-panel--error { color: $error; text-style: bold; }
    }
    """

    min_level: reactive[str] = reactive("info")
    """Lowest level shown: one of ``LEVELS``."""

    # RichLog sets the virtual size on every write, and Widget declares it with layout=True: a
    # reflow of the whole screen for each batch of lines (ten a second while a step runs). The
    # panel's own size does not follow its lines (unless its height is auto); only its
    # scrollbars do, and watch_virtual_size updates them. A scrollbar that appears or goes
    # still asks for its layout (show_*_scrollbar are layout reactives).
    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def __init__(
        self,
        *,
        max_lines: int = 5000,
        buffer_lines: int = 20_000,
        min_level: str = "info",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(
            max_lines=max_lines,
            min_width=1,
            wrap=False,
            highlight=False,
            markup=False,
            auto_scroll=True,
            name=name,
            id=id,
            classes=classes,
            disabled=disabled,
        )
        self._entries: deque[tuple[str, int, str]] = deque(maxlen=max(buffer_lines, max_lines))
        # The entry each line of the view shows, aligned with RichLog's lines from the end.
        self._owners: deque[tuple[str, int, str]] = deque(maxlen=max_lines or None)
        self._cursor: int | None = None
        """The cursor's line, counted from the first line ever written (None: no cursor)."""
        self._styles: tuple[Style, ...] = ()
        self._follow = True
        self._ready = False
        self.set_reactive(LogPanel.min_level, self.validate_min_level(min_level))

    @property
    def entry_count(self) -> int:
        """Entries in the buffer, every level."""
        return len(self._entries)

    @property
    def entries(self) -> list[tuple[str, str]]:
        """Every line in the buffer as ``(level, text)``, oldest first, whatever the filter."""
        return [(LEVELS[level], text) for _stamp, level, text in self._entries]

    @property
    def shown_count(self) -> int:
        """Lines in the view now (entries at or above ``min_level``, up to ``max_lines``)."""
        return len(self.lines)

    def write_line(self, level: str, text: str, *, at: datetime | None = None) -> None:
        """Add one line. ``level`` is debug, info, warning or error; ``at`` defaults to now."""
        self.write_many([(level, text)], at=at)

    def write_many(self, lines: Iterable[tuple[str, str]], *, at: datetime | None = None) -> None:
        """Add ``(level, text)`` lines in order, rendered in one pass.

        An unknown level raises ``ValueError`` before anything is added, so a batch is never
        half written.
        """
        stamp = (at.astimezone() if at else datetime.now()).strftime("%H:%M:%S")
        batch = [(stamp, LEVELS.index(level), text) for level, text in lines]
        self._entries.extend(batch)
        threshold = LEVELS.index(self.min_level)
        self._render_entries([entry for entry in batch if entry[1] >= threshold])

    def cycle_level(self) -> str:
        """debug → info → warning → error → debug. Returns the new level."""
        self.min_level = LEVELS[(LEVELS.index(self.min_level) + 1) % len(LEVELS)]
        return self.min_level

    def level_title(self) -> str:
        """The border title: the level shown now, and the key that changes it."""
        return _("Log · level: {level} (l)").format(level=level_name(self.min_level))

    @property
    def cursor_entry(self) -> tuple[str, str, str] | None:
        """``(time, level, text)`` of the line under the cursor; the last line without one."""
        index = self._cursor_index()
        if index is None:
            index = len(self.lines) - 1
        shown = min(len(self.lines), len(self._owners))
        offset = index - (len(self.lines) - shown)
        if not 0 <= offset < shown:
            return None
        stamp, level, text = self._owners[len(self._owners) - shown + offset]
        return stamp, LEVELS[level], text

    def action_move_cursor(self, delta: int) -> None:
        count = len(self.lines)
        if not count:
            return
        index = self._cursor_index()
        index = count - 1 if index is None else max(0, min(count - 1, index + delta))
        self._cursor = self._start_line + index
        top = self.scroll_offset.y
        height = self.scrollable_content_region.height
        if index < top:
            self.scroll_to(y=index, animate=False)
        elif index >= top + height:
            self.scroll_to(y=index - height + 1, animate=False)
        self.refresh()

    def action_open_line(self) -> None:
        entry = self.cursor_entry
        if entry is not None:
            self.post_message(self.LineChosen(*entry))

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if self.has_focus and self._cursor_index() == self.scroll_offset.y + y:
            # Reverse video: visible in 16 colours and with NO_COLOR too.
            strip = strip.apply_style(Style(reverse=True))
        return strip

    def _render_line(self, y: int, scroll_x: int, width: int) -> Strip:
        # RichLog crops the very line it keeps, and Strip caches the padded line, the crop and
        # what is later derived from them in that line: ~5 strips of 7 caches each stayed with
        # every line once shown, ~30 MB for the 5,000 lines a 100,000-user run leaves. A copy
        # takes those caches with it; RichLog's line cache (1,024 entries) still keeps the crop.
        if not 0 <= y < len(self.lines):
            return super()._render_line(y, scroll_x, width)
        kept = self.lines[y]
        self.lines[y] = Strip(list(kept), kept.cell_length)
        try:
            return super()._render_line(y, scroll_x, width)
        finally:
            self.lines[y] = kept

    def _cursor_index(self) -> int | None:
        if self._cursor is None:
            return None
        index = self._cursor - self._start_line
        return index if 0 <= index < len(self.lines) else None

    # -- internals -------------------------------------------------------------------------

    def validate_min_level(self, level: str) -> str:
        if level not in LEVELS:
            raise ValueError(f"min_level must be one of {LEVELS}, not {level!r}")
        return level

    def watch_min_level(self) -> None:
        self.border_title = self.level_title()
        self._rerender()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def watch_virtual_size(self, size: Size) -> None:
        if self.styles.auto_dimensions:
            self.refresh(layout=True)
        elif self.is_mounted:
            self._scroll_update(size)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # Follow new lines only while the reader is at the end; scrolling up to read pauses it.
        self._follow = new_value >= self.max_scroll_y

    def notify_style_update(self) -> None:
        super().notify_style_update()
        # Colours are baked into rendered lines; re-render only if the theme really changed them.
        self.call_later(self._check_styles)

    def _check_styles(self) -> None:
        styles = self._current_styles()
        if styles != self._styles:
            self._styles = styles
            self._rerender()

    def _current_styles(self) -> tuple[Style, ...]:
        return tuple(
            # Before CSS is applied there is nothing to resolve yet: plain, then re-rendered.
            self.get_component_rich_style(f"log-panel--{name}", partial=True, default=Style())
            for name in ("time", *LEVELS)
        )

    def on_mount(self) -> None:
        self._ready = True
        self.border_title = self.level_title()
        # Lines written before mounting were styled without CSS; restyle them if need be.
        self.call_later(self._check_styles)

    def _rerender(self) -> None:
        if not self._ready:
            return
        threshold = LEVELS.index(self.min_level)
        shown = [entry for entry in self._entries if entry[1] >= threshold]
        limit = self.max_lines or len(shown)
        self.clear()
        self._owners.clear()
        self._cursor = None
        self._follow = True
        self._render_entries(shown[-limit:])

    def _render_entries(self, entries: list[tuple[str, int, str]]) -> None:
        if not entries:
            return
        if not self._styles:
            # Component styles are not cheap to resolve (~0.8 ms for five): once, then only
            # after a style update.
            self._styles = self._current_styles()
        time_style, *level_styles = self._styles
        tags = [level_tag(level) for level in LEVELS]
        width = max(len(tag) for tag in tags)
        indent = "\n" + " " * (len("00:00:00 ") + width + 1)
        text = Text(no_wrap=True, end="")
        for number, (stamp, level, message) in enumerate(entries):
            if number:
                text.append("\n")
            style = level_styles[level]
            text.append(stamp, time_style)
            text.append(" ")
            text.append(tags[level].ljust(width), style)
            text.append(" ")
            # A multi-line message stays one entry, its continuation lines under its text.
            text.append(message.replace("\n", indent), style if level >= 2 else None)
            for _line in range(message.count("\n") + 1):
                self._owners.append((stamp, level, message))
        self.write(text, scroll_end=self._follow)
