"""The TUI with ``--read-only`` records nothing (issue 9, item 4), says so, and works while
another process holds the tenant; a writing TUI is turned away by that process (item 5)."""

from __future__ import annotations

import os
from pathlib import Path

from textual.widgets import Checkbox, Static

from app.screens.dialogs import ManualChecksModal
from app.screens.sign_in import SignInScreen
from services.journal.writer import Journal
from services.sandbox import SandboxConfig
from services.sandbox.seed import build_tenant
from services.steps.directory import MANUAL_ITEMS
from widgets import LogPanel

from .conftest import AppFactory, connected, sandbox_of, shows, wait_for

USERS = 40
SEED = 7


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


async def _tick_all(pilot, app) -> None:
    await pilot.press("m")
    await wait_for(pilot, lambda: shows(app, ManualChecksModal), "the manual checks")
    for i in range(len(MANUAL_ITEMS)):
        await pilot.press("space", *(["tab"] if i < len(MANUAL_ITEMS) - 1 else []))
    await pilot.press("ctrl+s")
    await wait_for(pilot, lambda: app.screen is app.main, "the checks to be saved")


async def test_read_only_tui_leaves_the_tenant_folder_as_it_was(
    make_app: AppFactory, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    # A real session first: a journal, the saved plan, the inventory backup, and on quitting
    # the run's end and its evidence pack.
    real = make_app(users=USERS, seed=SEED, state_root=state)
    async with real.run_test() as pilot:
        await connected(pilot)
        tenant = sandbox_of(real).tenant_id
        await pilot.press("q")
        await wait_for(pilot, lambda: real.return_code is not None, "q to quit")
    assert real.session is not None
    real.session.close()  # as run_tui does once the app has returned: the tenant is free
    folder = state / "tenants" / tenant
    before = folder_bytes(folder)
    assert {"journal.jsonl", "plan.json", "inventory-before.json"} <= set(before)

    ro = make_app(users=USERS, seed=SEED, state_root=state, read_only=True)
    async with ro.run_test() as pilot:
        await connected(pilot)
        assert ro.engine is not None and not ro.engine.recording
        log = ro.main.query_one(LogPanel)
        await wait_for(
            pilot,
            lambda: any("nothing is recorded" in line.text for line in log.lines),
            "the read-only notice in the log",
        )
        await pilot.press("m")
        await wait_for(pilot, lambda: shows(ro, ManualChecksModal), "the manual checks")
        warning = ro.screen.query_one("#ticks-not-recorded", Static)
        assert "not recorded" in str(warning.content)
        await pilot.press("escape")
        await wait_for(pilot, lambda: ro.screen is ro.main, "the checks to close")
        await _tick_all(pilot, ro)
        assert ro.engine.ticks() == set(MANUAL_ITEMS)  # shown for this session
        # A new plan (n) is shown, not saved.
        shown = ro.engine.plan
        await pilot.press("n")
        await wait_for(
            pilot,
            lambda: ro.engine.plan is not shown and ro.step_running is None,
            "the new plan to be made",
        )
        await pilot.press("q")
        await wait_for(pilot, lambda: ro.return_code is not None, "q to quit")
    assert folder_bytes(folder) == before

    # The next real session still asks for every manual check.
    again = make_app(users=USERS, seed=SEED, state_root=state)
    async with again.run_test() as pilot:
        await connected(pilot)
        assert again.engine is not None and again.engine.ticks() == set()
        await pilot.press("m")
        await wait_for(pilot, lambda: shows(again, ManualChecksModal), "the manual checks")
        assert not any(box.value for box in again.screen.query(Checkbox))
        assert not again.screen.query("#ticks-not-recorded")


async def test_only_reading_while_another_process_holds_the_tenant(
    make_app: AppFactory, tmp_path: Path
) -> None:
    tenant = build_tenant(SandboxConfig(users=USERS, seed=SEED)).org.id
    # Another process with another state dir: the lock in the runtime dir is the one shared.
    holder = Journal(tenant, root=tmp_path / "elsewhere").open("run")
    try:
        ro = make_app(users=USERS, seed=SEED, state_root=tmp_path / "state", read_only=True)
        async with ro.run_test() as pilot:
            await connected(pilot)
            assert ro.engine is not None and ro.engine.plan is not None

        writer = make_app(users=USERS, seed=SEED, state_root=tmp_path / "state")
        async with writer.run_test() as pilot:
            status = writer.screen.query_one("#sign-in-status", Static)
            await wait_for(
                pilot,
                lambda: shows(writer, SignInScreen) and "Another closeout" in str(status.content),
                "the sign-in screen to name the holder",
            )
            text = str(status.content)
            assert f"pid {os.getpid()} (run)" in text
            assert str((tmp_path / "elsewhere").absolute()) in text
            assert writer.engine is None
    finally:
        holder.close()
    assert not (tmp_path / "state" / "tenants").exists()
