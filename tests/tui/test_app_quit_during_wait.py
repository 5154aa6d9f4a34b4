"""Quitting while a wait goes on (issue 12): ``q`` during directory sync's 72 hours or a
handoff says, on the terminal the app leaves, that the wait goes on without closeout and what
to run later, and quits cleanly (the run ended in the journal, exit 3: waiting)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from services.models import StepId

from .conftest import AppFactory, connected, wait_for
from .test_app_dirsync import SEED, USERS, _journal_a_turn_off


async def test_q_during_a_wait_says_it_goes_on_without_closeout_and_what_to_run(
    make_app: AppFactory, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    _journal_a_turn_off(state, datetime.now(UTC).replace(microsecond=0))
    app = make_app(users=USERS, seed=SEED, state_root=state, time_scale=60, sync_flag="lags")
    app.relaunch = "closeout --demo"
    async with app.run_test() as pilot:
        await connected(pilot)

        def step1_waits() -> bool:
            st = app.step_states.get(StepId.DELETE_USERS)
            return st is not None and st.waiting_until is not None

        await wait_for(pilot, step1_waits, "step 1's 72-hour horizon")
        until = app.step_states[StepId.DELETE_USERS].waiting_until
        assert until is not None and app.step_states[StepId.CANCEL_SUBSCRIPTIONS].status.waiting
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None, "the app to quit")
        engine = app.engine
    assert app.return_code == 3
    said = app.goodbye
    assert f"Step 1 Delete users waits until {until.astimezone(UTC):%Y-%m-%d %H:%M} UTC" in said
    assert "Step 2 Cancel active subscriptions waits on you" in said, said
    assert "go on without closeout" in said and "closeout --demo" in said, said
    assert "--notify" in said
    assert engine is not None and engine.journal is not None
    assert engine.journal.unfinished() is None  # the run ended: a clean quit

