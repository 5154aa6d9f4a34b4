"""Ctrl-C in the TUI: during a run it stops the run as ``s`` does (the first press asks, a
second stops at once, between batches), never only Textual's "press q to quit" toast; when
nothing runs it quits as ``q`` does; in an input it stays the input's copy."""

from __future__ import annotations

from textual.widgets import Input

from app.screens.dialogs import STOP_GUARD_ID, ConfirmModal
from services.models import StepId, StepStatus

from .conftest import AppFactory, connected, shows, toasts, wait_for
from .test_app_runs import LONG_RUN, NO_SYNC, _deleted, _records, _slow_deletes, _start_step_1


async def test_ctrl_c_during_a_run_asks_then_a_second_press_stops_it(
    make_app: AppFactory,
) -> None:
    app = make_app(users=LONG_RUN, **NO_SYNC)
    async with app.run_test() as pilot:
        await connected(pilot)
        _slow_deletes(app)
        await _start_step_1(pilot)
        assert app.step_running == StepId.DELETE_USERS

        # First press: a question, not a toast; "No" lets the run go on.
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: shows(app, ConfirmModal), "the stop question")
        assert app.screen.id == STOP_GUARD_ID
        assert not any("quit" in t.lower() for t in toasts(app))
        assert app.control is not None and not app.control.stopped
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is app.main, "No to close the question")
        deleted = _deleted(app)
        await wait_for(pilot, lambda: _deleted(app) > deleted, "the run to go on")

        # Asked again, and the second Ctrl-C stops at once.
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: shows(app, ConfirmModal), "the stop question")
        control = app.control  # None again once the stopped step has ended
        await pilot.press("ctrl+c")
        assert control is not None and control.stopped
        await wait_for(pilot, lambda: app.step_running is None, "the step to stop")
        assert app.screen is app.main
        assert app.return_code is None, "Ctrl-C during a run stops the run, not the app"
        results = [o["result"] for o in _records(app, "outcome")]
        assert results.count("done") == _deleted(app) < LONG_RUN - 1
        assert app.step_states[StepId.DELETE_USERS].status != StepStatus.DONE


async def test_ctrl_c_question_answered_yes_stops_the_run(make_app: AppFactory) -> None:
    app = make_app(users=LONG_RUN, **NO_SYNC)
    async with app.run_test() as pilot:
        await connected(pilot)
        _slow_deletes(app)
        await _start_step_1(pilot)
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: shows(app, ConfirmModal), "the stop question")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.step_running is None, "the step to stop")
        assert _deleted(app) < LONG_RUN - 1
        assert app.return_code is None


async def test_ctrl_c_when_nothing_runs_quits_but_copies_in_an_input(
    make_app: AppFactory,
) -> None:
    app = make_app(users=12)
    async with app.run_test() as pilot:
        await connected(pilot)
        # In the filter box, with text selected, Ctrl-C is the input's copy: the app stays.
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.focused, Input), "the filter box")
        await pilot.press("a", "d", "ctrl+shift+a", "ctrl+c")
        await pilot.pause(0.2)
        assert app.return_code is None
        assert app.clipboard == "ad"
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.focused, Input), "the filter to close")
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: app.return_code is not None, "the app to quit")
