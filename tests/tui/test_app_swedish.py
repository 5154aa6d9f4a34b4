"""In Swedish, Textual's own words are Swedish too (the palette key, the palette's placeholder,
Textual's commands in it), and the y/n dialog takes and shows ``j``."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from textual.command import CommandInput, CommandPalette

from app.screens.dialogs import ConfirmModal
from services.i18n import set_language

from .conftest import AppFactory, connected, shows, wait_for

TEXTUALS_ENGLISH = {"Theme", "Keys", "Maximize", "Minimize", "Screenshot"}


@pytest.fixture
def swedish() -> Iterator[None]:
    set_language("sv")
    yield
    set_language("en")


async def test_the_palette_and_the_yes_key_speak_swedish(
    swedish: None, make_app: AppFactory
) -> None:
    app = make_app(users=8)
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert not titles & TEXTUALS_ENGLISH, titles
        assert {"Färgtema", "Tangenter", "Skärmbild"} <= titles

        app.action_command_palette()
        await wait_for(pilot, lambda: shows(app, CommandPalette), "the palette")
        assert app.screen.query_one(CommandInput).placeholder == "Sök bland kommandona…"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, "the palette to close")

        answers: list[bool | None] = []
        app.push_screen(ConfirmModal("Fråga", "Säker?"), answers.append)
        await wait_for(pilot, lambda: shows(app, ConfirmModal), "the y/n dialog")
        assert "(j)" in str(app.screen.query_one("#confirm").label)
        await pilot.press("j")
        await wait_for(pilot, lambda: answers == [True], "j to answer yes")


async def test_j_is_no_answer_in_english(make_app: AppFactory) -> None:
    app = make_app(users=8)
    async with app.run_test() as pilot:
        await connected(pilot)
        answers: list[bool | None] = []
        app.push_screen(ConfirmModal("Question", "Sure?"), answers.append)
        await wait_for(pilot, lambda: shows(app, ConfirmModal), "the y/n dialog")
        assert "(y)" in str(app.screen.query_one("#confirm").label)
        await pilot.press("j")
        await pilot.pause()
        assert answers == [] and shows(app, ConfirmModal)
        await pilot.press("y")
        await wait_for(pilot, lambda: answers == [True], "y to answer yes")


def test_the_palette_key_is_swedish_when_the_language_is_chosen_first() -> None:
    # Bindings are made when the app is imported; the command line chooses the language
    # before it imports the app, as this fresh interpreter does.
    probe = (
        "from services.i18n import set_language; set_language('sv')\n"
        "from app.closeout_app import CloseoutApp\n"
        "from app.screens.dialogs import ConfirmModal\n"
        "print([b.description for b in CloseoutApp.BINDINGS if b.action == 'command_palette'])\n"
        "print([b.key_display for b in ConfirmModal.BINDINGS if b.action == 'confirm'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines() == ["['kommandon']", "['j']"]
