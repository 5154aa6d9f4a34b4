"""The whole close-out of the demo tenant with the keyboard alone, as an admin would do it:
step 1 (directory sync off, wait, delete users), the subscription handoffs, the wait for
deprovisioning, the manual checks, the typed domain, and the final "Delete tenant" handoff."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.widgets import Static

from app.closeout_app import CloseoutApp
from app.screens.completion import CompletionScreen
from app.screens.dialogs import ConfirmModal, ManualChecksModal, TypedConfirmModal
from app.screens.handoff import HandoffScreen
from services.journal.writer import Journal
from services.models import StepId, StepStatus
from services.steps.directory import MANUAL_ITEMS
from widgets import LogPanel, StepChecklist

from .conftest import PATIENCE, AppFactory, connected, sandbox_of, shows, wait_for


def _texts(screen: Any) -> str:
    return "\n".join(str(w.render()) for w in screen.query(Static))


def _status(app: CloseoutApp, step: StepId) -> StepStatus:
    return app.step_states[step].status


async def _select(pilot: Any, app: CloseoutApp, step: StepId) -> None:
    checklist = app.main.query_one(StepChecklist)
    while checklist.selected != step:
        await pilot.press("down" if (checklist.selected or 0) < step else "up")


async def _press_until(
    pilot: Any, key: str, done: Callable[[], bool], what: str, timeout: float = 20
) -> None:
    """Press ``key`` (g: re-read Graph) every few tenths of a second until ``done()``, as an
    admin waiting on time would (the watch timer does the same; it is off in these tests).
    The timeout is stretched as ``wait_for``'s is: each re-read is a worker's round trip, which
    a loaded machine can make take seconds."""
    deadline = time.monotonic() + timeout * PATIENCE
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.press(key)
        await pilot.pause(0.2)


async def test_full_close_out_with_the_keyboard(make_app: AppFactory) -> None:
    # Graph's clock moves only when the test moves it (time scale 1, then jumps of hours): on a
    # loaded machine as on an idle one, step 1 meets the turn-off under way, then over, and the
    # close-out goes on long past the 72 hours after it (which once read "sync on again").
    app = make_app(users=40, time_scale=1.0)
    async with app.run_test() as pilot:
        await connected(pilot)
        sandbox = sandbox_of(app)
        domain = sandbox.initial_domain

        # Step 1: synced users, so r first turns directory sync off …
        await _select(pilot, app, StepId.DELETE_USERS)
        await pilot.press("r")
        await wait_for(pilot, lambda: shows(app, ConfirmModal), "step 1 asks")
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: app.step_running is None and sandbox.tenant.org.sync_disabled_at is not None,
            "sync to be turned off",
        )
        # … deletes the cloud-only users at once and waits for the synced ones …
        assert _status(app, StepId.DELETE_USERS) == StepStatus.WAITING_TIME
        assert any(u.synced for u in sandbox.tenant.users.values())
        # … and once they are converted (g re-reads), r deletes them.
        sandbox.clock.advance(sandbox.sync_duration())
        await _press_until(
            pilot,
            "g",
            lambda: (
                _status(app, StepId.DELETE_USERS) == StepStatus.PENDING
                and app.main.check_action("run_step", ()) is True
            ),
            "sync to finish turning off",
        )
        await pilot.press("r")
        await wait_for(pilot, lambda: shows(app, ConfirmModal), "step 1 asks again")
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: (
                app.step_running is None and _status(app, StepId.DELETE_USERS) == StepStatus.DONE
            ),
            "the users to be deleted",
        )
        assert [u.id for u in sandbox.tenant.users.values()] == [sandbox.admin_id]
        assert not app.step_states[StepId.DELETE_USERS].blockers

        # Steps 2 and 3: the admin center's part, in its handoffs.
        for step, settled in (
            (StepId.CANCEL_SUBSCRIPTIONS, (StepStatus.DONE,)),
            (StepId.DELETE_SUBSCRIPTIONS, (StepStatus.WAITING_TIME, StepStatus.DONE)),
        ):
            await _select(pilot, app, step)
            await pilot.press("h")
            await wait_for(pilot, lambda: shows(app, HandoffScreen), "the handoff")
            await pilot.press("A")
            await wait_for(
                pilot, lambda s=step, ok=settled: _status(app, s) in ok, f"step {int(step)}"
            )
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is app.main, "the handoff to close")

        # Deleted subscriptions deprovision 72 hours later; g re-reads until they have. By
        # then more than 72 hours (and closeout's grace) have passed since sync was turned off.
        sandbox.clock.advance(80 * 3600)
        await _press_until(
            pilot,
            "g",
            lambda: _status(app, StepId.DELETE_SUBSCRIPTIONS) == StepStatus.DONE,
            "deprovisioning",
        )
        # Long past the 72 hours after the turn-off, nothing says directory sync came back on.
        assert _status(app, StepId.DELETE_USERS) == StepStatus.DONE
        assert not app.step_states[StepId.DELETE_USERS].blockers
        # Step 4 needs nothing more: only the admin is left, whose MFA stays on.
        assert _status(app, StepId.DISABLE_MFA) == StepStatus.DONE
        assert app.main.check_action("delete_directory", ()) is None  # manual checks first

        # Step 5: tick the checks no API can make, then type the initial domain (Enter on the
        # step, once it can run, does its next thing: the typed confirmation).
        await pilot.press("m")
        await wait_for(pilot, lambda: shows(app, ManualChecksModal), "the checks")
        ticks = ["space", "tab"] * len(MANUAL_ITEMS)
        await pilot.press(*ticks[:-1], "ctrl+s")
        await wait_for(
            pilot, lambda: app.main.check_action("delete_directory", ()) is True, "D allowed"
        )
        await _select(pilot, app, StepId.DELETE_DIRECTORY)
        await pilot.press("enter")
        await wait_for(pilot, lambda: shows(app, TypedConfirmModal), "typed confirm")
        await pilot.press(*domain, "enter")
        await wait_for(
            pilot,
            lambda: (
                app.step_running is None
                and StepId.DELETE_DIRECTORY in app.handoffs
                and _status(app, StepId.DELETE_DIRECTORY) == StepStatus.WAITING_PERSON
            ),
            "the cleanup, then the Delete tenant handoff",
        )
        await _select(pilot, app, StepId.DELETE_DIRECTORY)
        await pilot.press("enter")  # waiting on the admin: Enter opens the handoff
        await wait_for(pilot, lambda: shows(app, HandoffScreen), "step 5's handoff")
        await pilot.press("A")
        await wait_for(
            pilot, lambda: _status(app, StepId.DELETE_DIRECTORY) == StepStatus.DONE, "the end"
        )
        assert sandbox.tenant.deleted
        checklist = app.main.query_one(StepChecklist)
        assert all(checklist.state_of(s).status == StepStatus.DONE for s in StepId)
        assert app.closeout_code == 0
        engine = app.engine
        assert engine is not None

        # The screen says the tenant is gone: what was done, when, and the evidence pack.
        await wait_for(pilot, lambda: shows(app, CompletionScreen), "the completion view")
        done = app.screen
        assert isinstance(done, CompletionScreen)
        pack = done.completion.pack
        assert (pack / "summary.json").is_file()
        assert str(pack) in done.pack_text.replace("\n", "")  # whole, wrapped, never cut
        words = _texts(done)
        assert domain in words and "Found deleted at " in words and " UTC" in words
        assert "Delete users: 39 done" in words
        # Nothing stale behind it: no count of the last read, no red refusal just before.
        remaining = str(app.main.query_one("#remaining", Static).render())
        assert remaining == "Nothing remains: the tenant is deleted."
        entries = app.main.query_one(LogPanel).entries
        handed_over = max(i for i, (_l, text) in enumerate(entries) if "deleted the tenant" in text)
        after = entries[handed_over:]
        assert not [text for level, text in after if level == "error"], after
        assert [text for _level, text in after].count("The tenant no longer exists.") == 1

        # e writes the pack again, and the view shows the new one.
        # Two packs in the same second differ by a suffix ("…Z-2"), so the old path is a
        # prefix of the new one: compare whole paths, not substrings.
        def shown_pack() -> Path:
            return Path(done.pack_text.split("\ne ")[0].replace("\n", ""))

        assert shown_pack() == pack
        await pilot.press("e")
        await wait_for(pilot, lambda: shown_pack() not in (pack, Path()), "a new pack")
        again = shown_pack()
        assert (again / "summary.json").is_file()
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, "Esc to show the log")
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None, "q to quit")
    assert app.return_value == app.return_code == 0
    journal = Journal(sandbox.tenant_id, root=engine.state_root)
    ends = [r for r in journal.records() if r["kind"] == "run-end"]
    assert [e["exit_code"] for e in ends] == [0]
