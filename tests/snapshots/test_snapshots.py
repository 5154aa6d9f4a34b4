"""Screenshots of settled states at 80×24 and 120×40, compared with reviewed baselines.

Each state is reached the way an admin reaches it (keys, on the demo tenant) and captured only
once it has settled: connected, workers done, the footer recomposed. Update the baselines with
``pytest tests/snapshots --snapshot-update`` in a commit of their own, after looking at them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from app.screens.dialogs import TypedConfirmModal
from app.screens.handoff import HandoffScreen
from app.screens.help import HelpScreen
from app.screens.main_screen import MainScreen
from app.screens.sign_in import SignInScreen
from services.journal.writer import Journal
from services.models import StepId
from services.sandbox import SandboxConfig
from services.sandbox.seed import build_tenant
from services.steps.directory import MANUAL_ITEMS
from tests.tui.conftest import footer_shows, shows, wait_for
from widgets import DeviceCodePanel, HandoffView, StepChecklist

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]

SnapCompare = Any


async def _connected(pilot: Pilot[Any]) -> None:
    app: Any = pilot.app
    await wait_for(
        pilot,
        lambda: app.engine is not None and shows(app, MainScreen),
        "the app to connect",
    )
    await app.workers.wait_for_complete()
    await footer_shows(pilot, app.main, "run_step", enabled=True)
    await pilot.pause()


async def _settle(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_main_screen_after_connect(
    snap_compare: SnapCompare, snapshot_app: Any, size: tuple[int, int]
) -> None:
    assert snap_compare(snapshot_app(), terminal_size=size, run_before=_connected)


@pytest.mark.parametrize("size", SIZES)
def test_sign_in_with_a_device_code(
    snap_compare: SnapCompare, snapshot_app: Any, size: tuple[int, int]
) -> None:
    async def code_shown(pilot: Pilot[Any]) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, SignInScreen)
        await wait_for(pilot, lambda: screen.prompt is not None, "the device code")
        assert screen.query_one(DeviceCodePanel).expiry_text == "expires in 15:00"
        await footer_shows(pilot, screen, "copy_code", enabled=True)
        await pilot.pause()

    assert snap_compare(
        snapshot_app(waiting_for_code=True), terminal_size=size, run_before=code_shown
    )


READY_FOR_STEP_5: dict[str, Any] = {
    "users": 1,
    "admin_count": 0,
    "synced_fraction": 0.0,
    "guest_fraction": 0.0,
    "subscriptions": "none",
    "deleted_users": 3,
}
"""A demo tenant that steps 1-4 are done with: only the admin, no subscriptions."""


def _ticked_manual_checks(state: Path) -> None:
    # The admin ticked the checks no API can make in an earlier session (so no re-read is
    # needed: on the frozen clock, a second Conditional Access read within the same
    # simulated second is throttled).
    tenant = build_tenant(SandboxConfig(seed=7, **READY_FOR_STEP_5))
    journal = Journal(tenant.org.id, root=state).open()
    try:
        for key in MANUAL_ITEMS:
            journal.tick(key, tenant.users.get(tenant.admin_id).user_principal_name)
    finally:
        journal.close()


@pytest.mark.parametrize("size", SIZES)
def test_typed_confirmation(
    snap_compare: SnapCompare, snapshot_app: Any, tmp_path: Path, size: tuple[int, int]
) -> None:
    async def typed_confirmation(pilot: Pilot[Any]) -> None:
        app: Any = pilot.app
        await _connected(pilot)
        assert app.main.check_action("delete_directory", ()) is True
        await pilot.press("D")
        await wait_for(pilot, lambda: shows(app, TypedConfirmModal), "the modal")
        await _settle(pilot)

    _ticked_manual_checks(tmp_path / "state")
    app = snapshot_app(**READY_FOR_STEP_5)
    assert snap_compare(app, terminal_size=size, run_before=typed_confirmation)


@pytest.mark.parametrize("size", SIZES)
def test_step_2_handoff(
    snap_compare: SnapCompare, snapshot_app: Any, size: tuple[int, int]
) -> None:
    async def handoff(pilot: Pilot[Any]) -> None:
        app: Any = pilot.app
        await _connected(pilot)
        checklist = app.main.query_one(StepChecklist)
        while checklist.selected != StepId.CANCEL_SUBSCRIPTIONS:
            await pilot.press("down")
        await pilot.press("h")
        await wait_for(pilot, lambda: shows(app, HandoffScreen), "the handoff")
        await wait_for(
            pilot, lambda: app.screen.query_one(HandoffView).handoff is not None, "its content"
        )
        await _settle(pilot)

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=handoff)


@pytest.mark.parametrize("size", SIZES)
def test_help(snap_compare: SnapCompare, snapshot_app: Any, size: tuple[int, int]) -> None:
    async def help_shown(pilot: Pilot[Any]) -> None:
        app: Any = pilot.app
        await _connected(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: shows(app, HelpScreen), "the help")
        await _settle(pilot)

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=help_shown)
