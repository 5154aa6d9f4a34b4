"""A footer that shows only the keys that fit on its one line, so that none overlap.

Textual's ``Footer`` lays every key out in a row and docks the command-palette key on the right
over whatever is beneath it: at 80 columns the last keys ran under it ("mManual chec │ ^ppalette").
This one keeps the keys in their binding order while they fit, with room kept for the palette
key, and drops the rest; every key stays reachable from help (``?``) and the command palette,
which list them all. It is laid out again when its width changes.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Footer

__all__ = ["FittingFooter"]

_GAP = 1
"""Cells after each key (the compact footer's ``margin-right``)."""


def _is_key(widget: Widget) -> bool:
    # FooterKey is not public (textual.widgets._footer): known by its name and its fields.
    return type(widget).__name__ == "FooterKey" and hasattr(widget, "key_display")


def key_width(key: Widget, *, compact: bool) -> int:
    """Cells one footer key takes on the line, its margin included."""
    display: str = getattr(key, "key_display", "")
    description: str = getattr(key, "description", "")
    width = Text(display).cell_len + (0 if compact else 2)
    if description:
        width += Text(description).cell_len + 1
    return width + _GAP


class FittingFooter(Footer):
    """A ``Footer`` without overflow: the keys that do not fit are left out (not cut)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._laid_out_for = 0
        self.dropped: tuple[str, ...] = ()
        """The actions of the keys left out at the last layout (help and the palette have them)."""

    def compose(self) -> ComposeResult:
        children = list(super().compose())
        width = self.size.width or self.app.size.width
        self._laid_out_for = width
        palette = [c for c in children if _is_key(c) and c.has_class("-command-palette")]
        # The palette key: its text, the separator bar before it.
        room = width - sum(key_width(k, compact=self.compact) for k in palette)
        kept: list[Widget] = []
        dropped: list[str] = []
        for child in children:
            if child in palette:
                continue
            if not _is_key(child):
                kept.append(child)  # a group label: ours have none
                continue
            need = key_width(child, compact=self.compact)
            if need <= room and not dropped:
                room -= need
                kept.append(child)
            else:
                # Once one key is left out, the later ones are too: the footer keeps the
                # bindings' order (help and quit first) and never skips a key to fit a smaller one.
                dropped.append(str(getattr(child, "action", "")))
        self.dropped = tuple(dropped)
        yield from kept
        yield from palette

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._laid_out_for and self._bindings_ready:
            self.call_after_refresh(self.recompose)
