"""Handoffs: the parts no API can do. The screen shows what to click and watches Graph; only a
demo sandbox has a key (``A``) that plays the admin center's part."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from app.closeout_app import CloseoutApp
from app.screens.handoff import HandoffScreen
from services.models import StepId, StepStatus
from services.sandbox import Sandbox
from services.session import SessionOptions
from widgets import HandoffView, StepChecklist

from .conftest import AppFactory, connected, footer_shows, sandbox_of, shows, wait_for


def _active_skus(sandbox: Sandbox) -> set[str]:
    tenant = sandbox.tenant
    return {
        tenant.skus[s.sku_id].sku_part_number
        for s in tenant.subscriptions.values()
        if s.status in ("Enabled", "Warning")
    }


async def _open_handoff(pilot: Any, app: CloseoutApp, step: StepId) -> HandoffScreen:
    checklist = app.main.query_one(StepChecklist)
    while checklist.selected != step:
        await pilot.press("down")
    await pilot.press("h")
    await wait_for(pilot, lambda: shows(app, HandoffScreen), "the handoff screen")
    screen = app.screen
    assert isinstance(screen, HandoffScreen) and screen.step == step
    return screen


async def test_step_2_handoff_shows_the_subscriptions_and_a_plays_the_admin_center(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    copied: list[str] = []
    monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
    async with app.run_test() as pilot:
        await connected(pilot)
        sandbox = sandbox_of(app)
        active = _active_skus(sandbox)
        assert active
        screen = await _open_handoff(pilot, app, StepId.CANCEL_SUBSCRIPTIONS)
        view = screen.query_one(HandoffView)
        table = view.query_one("#handoff-items", DataTable)
        states = {
            str(table.get_row_at(r)[0]): str(table.get_row_at(r)[1]) for r in range(table.row_count)
        }
        # Each by the admin center's product name, with its SKU code in a column of its own.
        codes = [str(c) for c in table.get_column("sku")]
        assert active <= set(codes), (active, codes)
        names = [str(c) for c in table.get_column("label")]
        assert ("Microsoft 365 E3", "SPE_E3") in zip(names, codes, strict=True)
        assert not view.has_class("-done")
        assert "active" in states.values()
        await footer_shows(pilot, screen, "play_portal", enabled=True)

        await pilot.press("c")
        assert copied == [screen.handoff.link] and copied[0].startswith("https://")

        # The admin center's part, played by the sandbox; the watch sees it in Graph.
        await pilot.press("A")
        await wait_for(pilot, lambda: view.has_class("-done"), "the watch to see the change")
        assert _active_skus(sandbox) == set()
        assert app.step_states[StepId.CANCEL_SUBSCRIPTIONS].status == StepStatus.DONE
        states = {
            str(table.get_row_at(r)[0]): str(table.get_row_at(r)[1]) for r in range(table.row_count)
        }
        assert "active" not in states.values()

        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, "Esc to close the handoff")


async def test_admin_center_key_is_hidden_against_a_tenant_that_is_not_the_demo(
    make_sandbox: Any, tmp_path: Path
) -> None:
    # A tenant reached over a Graph URL, as a real one would be: no in-process sandbox, so
    # nothing can play the admin center's part.
    sandbox = make_sandbox(users=40, seed=7)
    options = SessionOptions(
        graph_url=sandbox.base_url,
        authority=sandbox.authority,
        environ={"CLOSEOUT_ACCESS_TOKEN": sandbox.issue_token()},
        state_root=tmp_path / "state",
    )
    app = CloseoutApp(options, watch=False)
    try:
        async with app.run_test() as pilot:
            await connected(pilot)
            main = app.main
            assert app.portal is None
            assert main.check_action("play_portal", ()) is False
            await footer_shows(pilot, main, "play_portal", enabled=None)
            await footer_shows(pilot, main, "run_step", enabled=True)  # the footer is there

            screen = await _open_handoff(pilot, app, StepId.CANCEL_SUBSCRIPTIONS)
            assert screen.check_action("play_portal", ()) is False
            await footer_shows(pilot, screen, "play_portal", enabled=None)
            before = _active_skus(sandbox)
            await pilot.press("A")
            await pilot.pause(0.2)
            assert _active_skus(sandbox) == before
            assert app.step_states[StepId.CANCEL_SUBSCRIPTIONS].status == StepStatus.WAITING_PERSON
    finally:
        if app.session is not None:
            app.session.close()
