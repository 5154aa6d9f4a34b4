"""One truth on screen: while a step runs, the checklist, the progress bar and the "Remaining"
line show the same numbers at every moment (they read one model), and the bar shows the step
that runs, from its first moment."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from app.screens.dialogs import ConfirmModal
from services.models import StepId, StepStatus
from widgets import RunProgress, StepChecklist

from .conftest import AppFactory, connected, sandbox_of, shows, wait_for

STEP = StepId.DELETE_USERS


def _sample(app: Any) -> tuple[int, int, str, str, str]:
    main = app.main
    state = main.query_one(StepChecklist).state_of(STEP)
    bar = main.query_one(RunProgress)
    remaining = str(main.query_one("#remaining", Static).render())
    return state.done, state.total, bar.counts_text, bar.label, remaining


async def test_checklist_bar_and_remaining_agree_through_a_run(make_app: AppFactory) -> None:
    # Synced users: the run first turns directory sync off (a write of its own, "1 of 1"),
    # then deletes the users who are not synchronized.
    app = make_app(users=160)
    async with app.run_test(size=(120, 40)) as pilot:
        await connected(pilot)
        sandbox_of(app).add_fault(
            method="DELETE", path=r"^/v1\.0/users/", status=None, delay=0.03, times=-1
        )
        await pilot.press("1", "r")
        await wait_for(pilot, lambda: shows(app, ConfirmModal), "the confirmation")
        await pilot.press("y")
        samples = []
        while True:
            await pilot.pause(0.03)
            running = app.step_running == STEP
            if not running and samples:
                break
            if running and app.step_states[STEP].status == StepStatus.RUNNING:
                samples.append(_sample(app))
        moving = [s for s in samples if 0 < s[0] < s[1]]
        assert len(moving) >= 3, samples  # seen mid-run, more than once
        for done, total, counts, label, remaining in samples:
            assert counts.startswith(f"{done:,} / {total:,}"), (done, total, counts)
            assert label == "Delete users"
            assert remaining.startswith(f"Remaining: {total - done:,} users (1 kept)"), (
                done,
                total,
                remaining,
            )
