"""Step 5's typed confirmation: only the exact initial domain lets the irreversible cleanup run.

The tenant here is one that steps 1-4 have already finished with (only the admin left, no
subscriptions), so ``D`` is allowed as soon as the manual checks are ticked.
"""

from __future__ import annotations

from pathlib import Path
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


def _consequences(modal: Any) -> str:
    return "\n".join(modal.consequences)


async def test_the_typed_confirmation_says_what_happens_to_closeouts_own_app(
    make_app: AppFactory, tmp_path: Path
) -> None:
    # closeout signs in with its own app registration, registered in this tenant.
    app = make_app(**READY_FOR_STEP_5, own_app=True)
    async with app.run_test() as pilot:
        await _ready(pilot)
        await pilot.press("D")
        await wait_for(pilot, lambda: shows(app, TypedConfirmModal), "the modal")
        # First, so that it is in view even at 80x24.
        first = app.screen.consequences[0]
        assert "closeout's own app closeout (sign-in app) is left for you" in first
        assert "to delete last, just before the tenant" in first
        await pilot.press("escape")
    # Microsoft's public client (the default): its service principal is Microsoft's and stays.
    # (Another tenant: the first app still holds its tenant's runner lock until teardown.)
    app = make_app(**READY_FOR_STEP_5, seed=8, state_root=tmp_path / "second")
    async with app.run_test() as pilot:
        await _ready(pilot)
        await pilot.press("D")
        await wait_for(pilot, lambda: shows(app, TypedConfirmModal), "the modal")
        first = app.screen.consequences[0]
        assert "Microsoft Graph Command Line Tools" in first and "stays" in first


async def test_last_resort_only_once_delete_tenant_is_handed_over_and_typed(
    make_app: AppFactory,
) -> None:
    app = make_app(**READY_FOR_STEP_5, portal_refuses_microsoft_sps=True)
    async with app.run_test() as pilot:
        await _ready(pilot)
        sandbox = sandbox_of(app)
        domain = sandbox.initial_domain
        # Before closeout handed "Delete tenant" over, the portal cannot have refused: no key.
        assert app.main.check_action("last_resort", ()) is None
        await pilot.press("X")
        await pilot.pause(0.2)
        assert not shows(app, TypedConfirmModal)

        await pilot.press("D")
        await wait_for(pilot, lambda: shows(app, TypedConfirmModal), "the cleanup's modal")
        app.screen.query_one("#domain", Input).post_message(events.Paste(domain))
        await wait_for(pilot, lambda: not app.screen.query_one("#delete", Button).disabled, "ok")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: app.step_running is None and StepId.DELETE_DIRECTORY in app.handoffs,
            "the cleanup and the Delete tenant handoff",
        )
        assert sandbox.deletion_blockers()  # the portal refuses: Microsoft's are enabled
        await wait_for(
            pilot, lambda: app.main.check_action("last_resort", ()) is True, "the key to offer it"
        )
        microsoft = {s.id for s in sandbox.tenant.service_principals.values() if s.is_microsoft}
        writes = len(sandbox.recorder.writes())

        # Its own typed confirmation: a wrong domain is refused, Esc changes nothing.
        await pilot.press("X")
        await wait_for(pilot, lambda: shows(app, TypedConfirmModal), "the last resort's modal")
        modal = app.screen
        assert modal.id == "last-resort-confirm"
        assert "Microsoft's own" in _consequences(modal)
        modal.query_one("#domain", Input).value = domain.upper()
        await pilot.pause()
        assert modal.query_one("#delete", Button).disabled
        await pilot.press("enter")
        assert app.screen is modal
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, "Esc to close it")
        await pilot.pause(0.3)
        assert app.step_running is None
        assert len(sandbox.recorder.writes()) == writes

        await pilot.press("X")
        await wait_for(pilot, lambda: shows(app, TypedConfirmModal), "the last resort's modal")
        modal = app.screen
        modal.query_one("#domain", Input).post_message(events.Paste(domain))
        await wait_for(pilot, lambda: not modal.query_one("#delete", Button).disabled, "ok")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.main, "the modal to close")
        await wait_for(pilot, lambda: app.step_running is None, "the last resort to finish")
        touched = {w.object_id for w in sandbox.recorder.writes()[writes:]}
        assert touched & microsoft
        # closeout's own sign-in app (Microsoft's public client here) is not among them.
        cli = next(
            s.id
            for s in sandbox.tenant.service_principals.values()
            if s.display_name == "Microsoft Graph Command Line Tools"
        )
        assert cli not in touched
