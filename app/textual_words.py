"""Textual's own words in the app's language: the palette key in the footers, the palette's
search placeholder, and the commands Textual puts in the palette (Theme, Keys, Maximize,
Minimize, Screenshot).

Textual writes them in English; everything else closeout shows is translated, so a Swedish
admin met English only there ("^p palette", "Search for commands…", "Keys")."""

from __future__ import annotations

from textual.app import SystemCommand

from services.i18n import N_, _

PALETTE_KEY = N_("palette")
PALETTE_TOOLTIP = N_("Open the command palette")
SEARCH_COMMANDS = N_("Search for commands…")

# Textual's system commands by their help text (the English title "Keys" has two of them).
_SYSTEM_COMMANDS = {
    "Change the current theme": (N_("Theme"), N_("Change the current theme")),
    "Hide the keys and widget help panel": (N_("Keys"), N_("Hide the keys and widget help panel")),
    "Show help for the focused widget and a summary of available keys": (
        N_("Keys"),
        N_("Show help for the focused widget and a summary of available keys"),
    ),
    "Minimize the widget and restore to normal size": (
        N_("Minimize"),
        N_("Minimize the widget and restore to normal size"),
    ),
    "Maximize the focused widget": (N_("Maximize"), N_("Maximize the focused widget")),
    "Save an SVG 'screenshot' of the current screen": (
        N_("Screenshot"),
        N_("Save an SVG 'screenshot' of the current screen"),
    ),
}


def translated(command: SystemCommand) -> SystemCommand:
    """One of Textual's palette commands in the app's language (others as they are)."""
    words = _SYSTEM_COMMANDS.get(command.help)
    if words is None:
        return command
    title, help_text = words
    return SystemCommand(_(title), _(help_text), command.callback, command.discover)
