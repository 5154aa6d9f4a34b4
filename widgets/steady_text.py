"""Text that changes often in a ``Static`` or ``Label``, laid out again only when its shape does.

``Static.update`` asks Textual for a layout by default, since it cannot know that the new text
takes the room the old one did; a layout reflows every widget on the screen and repaints what
moved. A running step's counts change ten times a second and nearly always keep their shape:
digits replace digits. This module owns that judgement: the same lines, each with the same cells
and its spaces in the same places (so it wraps the same at any width), need only a repaint.
"""

from __future__ import annotations

import re

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static

__all__ = ["shape", "show_text"]

_NOT_SPACE = re.compile(r"\S")


def shape(text: str | Text) -> tuple[str, ...] | None:
    """The room ``text`` takes, as its lines with every visible character an ``x``; None when
    a character is not one cell wide (then only a layout can tell)."""
    lines = (text.plain if isinstance(text, Text) else text).split("\n")
    if any(cell_len(line) != len(line) for line in lines):
        return None
    return tuple(_NOT_SPACE.sub("x", line) for line in lines)


def show_text(widget: Static, text: str | Text) -> bool:
    """Show ``text`` (literally: a ``str`` is never read as markup) in ``widget``.

    Nothing is done for the text already shown; a text of the same :func:`shape` repaints the
    widget only. Returns whether a layout was asked for.
    """
    new = Text(text) if isinstance(text, str) else text
    old = widget.content
    if isinstance(old, Text) and (old.plain, old.spans, old.style) == (
        new.plain,
        new.spans,
        new.style,
    ):
        return False
    same = isinstance(old, (str, Text)) and (room := shape(old)) is not None and room == shape(new)
    widget.update(new, layout=not same)
    return not same
