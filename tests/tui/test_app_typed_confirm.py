"""Step 5's typed confirmation: only the exact initial domain lets the irreversible cleanup run.

The tenant here is one that steps 1-4 have already finished with (only the admin left, no
subscriptions), so ``D`` is allowed as soon as the manual checks are ticked.
"""

from __future__ import annotations

from typing import Any

from textual import events
from textual.widgets import Button, Input

from app.screens.dialogs import TypedConfirmModal
from services.models import StepId, StepStatus
from services.steps.directory import MANUAL_ITEMS

from .conftest import AppFactory, connected, sandbox_of, shows, wait_for

READY_FOR_STEP_5: dict[str, Any] = {
    "users": 1,
    "admin_count": 0,
    "synced_fraction": 0.0,
    "guest_fraction": 0.0,
    "subscriptions": "none",
    "deleted_users": 3,
}


async def _ready(pilot: Any) -> Any:
    app = await connected(pilot)
    assert app.step_states[StepId.DELETE_DIRECTORY].status == StepStatus.WAITING_PERSON
    for key in MANUAL_ITEMS:  # what ticking them in the checks modal records
        app.engine.tick(key)
    await pilot.press("g")
    await wait_for(
        pilot,
        lambda: app.main.check_action("delete_directory", ()) is True,
        "step 5 to become possible",
    )
    return app


def _journal_confirms(app: Any) -> list[dict[str, Any]]:
    return [r for r in app.engine.journal.records() if r["kind"] == "confirm"]


async def test_wrong_domain_refuses_esc_cancels_right_domain_runs_the_cleanup(
    make_app: AppFactory,
) -> None:
    app = make_app(**READY_FOR_STEP_5)
    async with app.run_test() as pilot:
        await _ready(pilot)
        sandbox = sandbox_of(app)
        domain = sandbox.initial_domain
        writes = len(sandbox.recorder.writes())

        await pilot.press("D")
        await wait_for(pilot, lambda: shows(app, TypedConfirmModal), "the modal")
        modal = app.screen
        box = modal.query_one("#domain", Input)
        delete = modal.query_one("#delete", Button)
        assert box.has_focus and delete.disabled

        # Typed by key (short, to keep the test quick), then near misses set directly.
        await pilot.press(*"fabrikam")
        assert box.value == "fabrikam" and delete.disabled
        await pilot.press("enter")
        assert app.screen is modal, "Enter accepted a wrong domain"
        for wrong in (domain[:-1], domain.upper(), f" {domain}", "contoso.onmicrosoft.com"):
            box.value = wrong
            await pilot.pause()
            assert delete.disabled, f"Delete is enabled for {wrong!r}"
            await pilot.press("enter")
            assert app.screen is modal, f"Enter accepted {wrong!r}"

        # Esc cancels: nothing is sent, nothing recorded, and D can be pressed again.
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, "Esc to close the modal")
        await pilot.pause(0.3)  # a run, had one started, would have sent by now
        assert app.step_running is None
        assert len(sandbox.recorder.writes()) == writes, "something was sent"
        assert _journal_confirms(app) == []
        assert app.step_states[StepId.DELETE_DIRECTORY].status == StepStatus.PENDING
        assert app.main.check_action("delete_directory", ()) is True

        # The right domain (pasted here; the end-to-end test types it) runs the cleanup.
        assert len(sandbox.tenant.deleted_users) == 3 and len(sandbox.tenant.applications) == 4
        await pilot.press("D")
        await wait_for(pilot, lambda: shows(app, TypedConfirmModal), "the modal")
        modal = app.screen
        modal.query_one("#domain", Input).post_message(events.Paste(domain))
        await wait_for(
            pilot, lambda: not modal.query_one("#delete", Button).disabled, "Delete enabled"
        )
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.main, "the modal to close")
        await wait_for(
            pilot,
            lambda: (
                app.step_running is None
                and app.step_states[StepId.DELETE_DIRECTORY].status == StepStatus.WAITING_PERSON
            ),
            "the cleanup to finish",
        )
        # Purged from the recycle bin, applications deleted: only the tenant deletion is left.
        assert len(sandbox.tenant.deleted_users) == 0 and len(sandbox.tenant.applications) == 0
        assert len(sandbox.recorder.writes()) > writes
        assert not app.step_states[StepId.DELETE_DIRECTORY].blockers
        assert StepId.DELETE_DIRECTORY in app.handoffs
        confirms = _journal_confirms(app)
        assert [(c["matched"], c["expected"]) for c in confirms] == [(True, domain)]
