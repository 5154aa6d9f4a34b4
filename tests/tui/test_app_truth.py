"""One truth on screen: while a step runs, the checklist, the progress bar and the "Remaining"
line show the same numbers at every moment (they read one model), and the bar shows the step
that runs, from its first moment.

The run goes at the test's pace: the sandbox carries out each ``$batch`` and then holds its
answer until the test lets one go, so every answer is a moment the test sees, however loaded
the machine."""

from __future__ import annotations

import threading
from typing import Any

from textual.widgets import Static

from app.screens.dialogs import ConfirmModal
from services.models import StepId
from services.sandbox.http import Response
from widgets import RunProgress, StepChecklist

from .conftest import AppFactory, connected, sandbox_of, shows, wait_for

STEP = StepId.DELETE_USERS
HOLD_LIMIT = 60.0
"""Real seconds an answer is held at most: a failing test never leaves a server thread behind."""


def _sample(app: Any) -> tuple[int, int, str, str, str]:
    main = app.main
    state = main.query_one(StepChecklist).state_of(STEP)
    bar = main.query_one(RunProgress)
    remaining = str(main.query_one("#remaining", Static).render())
    return state.done, state.total, bar.counts_text, bar.label, remaining


class Gate:
    """Holds each answer to a ``$batch`` of deletes until :meth:`let_one_go`. A ``$batch`` of
    one goes through: turning directory sync off is one, and moves no count."""

    def __init__(self) -> None:
        self._tokens = threading.Semaphore(0)

    def __call__(self, response: Response) -> Response:
        if len(response.body.get("responses", ())) > 1:
            self._tokens.acquire(timeout=HOLD_LIMIT)
        return response

    def let_one_go(self) -> None:
        self._tokens.release()

    def open(self) -> None:
        self._tokens.release(10_000)


async def test_checklist_bar_and_remaining_agree_through_a_run(make_app: AppFactory) -> None:
    # Synced users: the run first turns directory sync off (a write of its own, "1 of 1"),
    # then deletes the users who are not synchronized.
    app = make_app(users=160)
    async with app.run_test(size=(120, 40)) as pilot:
        await connected(pilot)
        gate = Gate()
        sandbox_of(app).add_fault(
            method="POST", path=r"/\$batch$", status=None, rewrite=gate, times=-1
        )
        # Every screen update of the run is a moment to compare the three at.
        samples: list[tuple[int, int, str, str, str]] = []
        apply = app.main.apply

        def sampled_apply(pending: Any) -> None:
            apply(pending)
            if app.step_running == STEP:
                samples.append(_sample(app))

        app.main.apply = sampled_apply  # type: ignore[method-assign]
        try:
            await pilot.press("1", "r")
            await wait_for(pilot, lambda: shows(app, ConfirmModal), "the confirmation")
            await pilot.press("y")
            await wait_for(pilot, lambda: app.step_running == STEP, "the run to begin")
            checklist = app.main.query_one(StepChecklist)
            # Each answer let go moves the count on by its batch; the last one ends the run.
            for _answer in range(160):
                if app.step_running != STEP:
                    break
                before = checklist.state_of(STEP).done
                gate.let_one_go()
                await wait_for(
                    pilot,
                    lambda: (
                        checklist.state_of(STEP).done > before  # noqa: B023
                        or app.step_running != STEP
                    ),
                    "an answer to move the count",
                )
                samples.append(_sample(app))
        finally:
            gate.open()
        await wait_for(pilot, lambda: app.step_running is None, "the run to end")
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
