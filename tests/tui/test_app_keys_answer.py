"""Every key answers: a key that cannot act now says why in one line, Enter on a step does its
next thing, digits jump to a step, and the command palette holds every key's action."""

from __future__ import annotations

from typing import Any

from textual import events
from textual.command import CommandList, CommandPalette

from app.closeout_app import CloseoutApp
from app.screens.dialogs import ConfirmModal, ManualChecksModal
from app.screens.handoff import HandoffScreen
from services.models import StepId
from widgets import StepChecklist

from .conftest import AppFactory, connected, shows, toasts, wait_for


async def _said(pilot: Any, app: CloseoutApp, text: str) -> None:
    await wait_for(pilot, lambda: any(text in t for t in toasts(app)), repr(text))


async def test_a_key_that_cannot_act_says_why(make_app: AppFactory) -> None:
    app = make_app(users=12)
    async with app.run_test() as pilot:
        await connected(pilot)
        checklist = app.main.query_one(StepChecklist)
        await pilot.press("4")
        await wait_for(pilot, lambda: checklist.selected == StepId.DISABLE_MFA, "step 4")
        assert app.main.check_action("run_step", ()) is None  # greyed out in the footer…
        await pilot.press("r")
        await _said(pilot, app, "Step 4 waits for step 1.")  # …and says why when pressed
        await pilot.press("D")
        await _said(pilot, app, "Step 5 waits for steps 1, 2, 3, 4.")  # never "for step 1, 2"
        await pilot.press("s")
        await _said(pilot, app, "No step is running.")
        await pilot.press("5", "r")
        await _said(pilot, app, "its key is D")


async def test_digits_jump_and_enter_does_the_next_thing(make_app: AppFactory) -> None:
    app = make_app(users=12)
    async with app.run_test() as pilot:
        await connected(pilot)
        checklist = app.main.query_one(StepChecklist)
        await pilot.press("1")
        await wait_for(pilot, lambda: checklist.selected == StepId.DELETE_USERS, "step 1")
        await pilot.press("enter")  # step 1 can run: Enter asks to run it
        await wait_for(pilot, lambda: shows(app, ConfirmModal), "step 1's confirmation")
        assert app.screen.id == "confirm"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, "the confirmation to close")
        await pilot.press("4", "enter")  # step 4 cannot: Enter says why
        await _said(pilot, app, "Step 4 waits for step 1.")
        assert app.screen is app.main and app.step_running is None


async def test_the_palette_holds_every_key_with_its_key(make_app: AppFactory) -> None:
    app = make_app(users=12)
    async with app.run_test() as pilot:
        await connected(pilot)
        titles = {c.title for c in app.get_system_commands(app.main)}
        for title in (
            "Run step (r)",
            "Stop (s)",
            "Pause/resume (p)",
            "Handoff (h)",
            "Manual checks (m)",
            "Delete directory… (D)",
            "Export (e)",
            "New plan (n)",
            "Log level (l)",
            "Quit (q)",
            "Go to step 4: Disable multifactor authentication (4)",
        ):
            assert title in titles
        # The digits too: the palette's step 4 selects step 4, as the key does.
        await _from_palette(pilot, app, "Go to step 4")
        checklist = app.main.query_one(StepChecklist)
        await wait_for(pilot, lambda: checklist.selected == StepId.DISABLE_MFA, "step 4")
        await _from_palette(pilot, app, "Manual checks (m)")
        await wait_for(pilot, lambda: shows(app, ManualChecksModal), "the manual checks")


async def _from_palette(pilot: Any, app: CloseoutApp, text: str) -> None:
    """Ctrl-P, ``text`` typed, Enter once the palette's first match is that command."""
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: shows(app, CommandPalette), "the command palette")
    await pilot.press(*text)
    commands = app.screen.query_one(CommandList)

    def first_match() -> bool:
        if not commands.option_count or commands.highlighted is None:
            return False
        return text in str(commands.get_option_at_index(commands.highlighted).prompt)

    await wait_for(pilot, first_match, f"{text!r} first in the palette")
    await pilot.press("enter")
    await wait_for(
        pilot, lambda: not isinstance(app.screen, CommandPalette), "the palette to close"
    )


async def test_step_5_asks_for_the_manual_checks_first(make_app: AppFactory) -> None:
    # No synced users, no subscriptions, nothing the admin center blocks: once step 1 has run,
    # only the checks no API can make stand before step 5.
    app = make_app(users=12, synced_fraction=0.0, subscriptions="none", manual_blockers=False)
    async with app.run_test() as pilot:
        await connected(pilot)
        await pilot.press("1", "r")
        await wait_for(pilot, lambda: shows(app, ConfirmModal), "step 1's confirmation")
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: (
                app.step_running is None
                and all(app.step_states[s].status.name == "DONE" for s in list(StepId)[1:5])
            ),
            "steps 1-4 done",
        )
        # Step 5 waits on the admin: for these checks, which D and Enter say and open.
        assert app.step_states[StepId.DELETE_DIRECTORY].status.waiting
        await pilot.press("5", "D")  # greyed out: says why in one line
        await _said(pilot, app, "Step 5: tick the manual checks first — m.")
        await pilot.press("enter")  # Enter does the next thing: the manual checks
        await wait_for(pilot, lambda: shows(app, ManualChecksModal), "the manual checks")


async def test_keys_typed_in_one_burst_act_in_order(make_app: AppFactory) -> None:
    """ "2h" typed at once (a paste, a fast typist, tmux send-keys): h acts on step 2, which
    2 has just selected, never on the step selected before."""
    app = make_app(users=12)
    async with app.run_test() as pilot:
        await connected(pilot)
        checklist = app.main.query_one(StepChecklist)
        await wait_for(
            pilot, lambda: StepId.CANCEL_SUBSCRIPTIONS in app.handoffs, "step 2's handoff"
        )
        assert checklist.selected != StepId.CANCEL_SUBSCRIPTIONS
        # Both keys queued before either is handled, as a terminal delivers a burst.
        app.post_message(events.Key("2", "2"))
        app.post_message(events.Key("h", "h"))
        await wait_for(pilot, lambda: shows(app, HandoffScreen) or toasts(app), "h to answer")
        assert shows(app, HandoffScreen), toasts(app)
        assert app.screen.step == StepId.CANCEL_SUBSCRIPTIONS  # type: ignore[attr-defined]
