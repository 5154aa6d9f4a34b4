"""The app reads the step registry: with a fake step in the place of step 2, moved before step
1, the checklist lists the registry's order, ``r`` is offered for it and asks its question,
the engine runs it, and the help describes it — all on the demo tenant over real HTTP."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from app.screens.dialogs import ConfirmModal
from app.screens.help import HelpScreen
from services.models import StepId, StepStatus
from services.steps import registry
from tests.support.fake_steps import fake_step
from widgets import StepChecklist

from .conftest import AppFactory, connected, shows, wait_for


async def test_checklist_keys_and_help_follow_the_registry(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[StepId] = []
    real = {s.id: s for s in registry.STEPS}
    monkeypatch.setattr(
        registry,
        "STEPS",
        (
            real[StepId.PREPARE],
            fake_step(StepId.CANCEL_SUBSCRIPTIONS, calls),
            *(
                s
                for s in real.values()
                if s.id not in (StepId.PREPARE, StepId.CANCEL_SUBSCRIPTIONS)
            ),
        ),
    )
    app = make_app()
    async with app.run_test() as pilot:
        await connected(pilot)
        main = app.main
        checklist = main.query_one(StepChecklist)
        assert [o.id for o in checklist.options] == [
            "step-0",
            "step-2",
            "step-1",
            "step-3",
            "step-4",
            "step-5",
        ]
        await wait_for(
            pilot,
            lambda: app.step_states[StepId.PREPARE].status == StepStatus.DONE,
            "step 0 to be done",
        )

        # The second line is the fake: the real step 2 is a handoff, which "r" never runs.
        await pilot.press("down")
        assert checklist.selected == StepId.CANCEL_SUBSCRIPTIONS
        assert main.check_action("run_step", ()) is True
        await pilot.press("r")
        await wait_for(pilot, lambda: shows(app, ConfirmModal), "the step's question")
        assert str(app.screen.query_one(".dialog-title", Static).render()) == "Fake?"
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: app.step_states[StepId.CANCEL_SUBSCRIPTIONS].status == StepStatus.DONE,
            "the fake step to be run and assessed done",
        )
        assert calls == [StepId.CANCEL_SUBSCRIPTIONS]
        assert main.check_action("run_step", ()) is None  # done: nothing left to run

        await pilot.press("question_mark")
        await wait_for(pilot, lambda: shows(app, HelpScreen), "the help")
        lines = [str(s.render()) for s in app.screen.query(Static)]
        assert any("2: fake it, 1: delete users" in line for line in lines), lines
        assert "2 Fake" in lines and "A fake step." in lines
