"""Starting over a run that did not finish (the SSH session dropped, the process was killed):
the app says so and offers to resume before anything else happens."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from app.screens.dialogs import ConfirmModal
from services.journal.writer import Journal
from services.sandbox import SandboxConfig
from services.sandbox.seed import build_tenant
from widgets import LogPanel

from .conftest import AppFactory, connected, shows, wait_for

USERS = 40
SEED = 7


def _kill_mid_step(state: Path) -> str:
    """Leave what a killed run leaves in the demo tenant's journal: a run-start and a batch
    of intents with no outcomes and no run-end. Returns the run id."""
    tenant = build_tenant(SandboxConfig(users=USERS, seed=SEED))
    victims = [u for u in tenant.users.values() if u.id != tenant.admin_id][:2]
    journal = Journal(tenant.org.id, root=state).open()
    try:
        run = journal.start_run("tui", options={"resumed": None})
        journal.write_intents(
            {"step": 1, "action": "delete-user", "object": u.id, "label": u.user_principal_name}
            for u in victims
        )
    finally:
        journal.close()
    return run


@pytest.mark.parametrize("answer", ["y", "n"])
async def test_unfinished_run_is_offered_for_resume(
    make_app: AppFactory, tmp_path: Path, answer: str
) -> None:
    state = tmp_path / "state"
    killed = _kill_mid_step(state)
    app = make_app(users=USERS, seed=SEED, state_root=state)
    async with app.run_test() as pilot:
        await connected(pilot, top=ConfirmModal)
        modal = app.screen
        assert modal.id == "resume"
        body = " ".join(str(s.content) for s in modal.query(Static))
        assert killed in body and "2 actions were in flight" in body
        assert (
            app.engine is not None and app.engine.run_id == ""
        )  # nothing starts before the answer

        await pilot.press(answer)
        await wait_for(pilot, lambda: app.screen is not modal, "the answer")
        engine = app.engine
        await wait_for(pilot, lambda: engine.run_id != "", "a new run to start")
        journal = engine.journal
        assert journal is not None
        starts = [r for r in journal.records() if r["kind"] == "run-start"]
        assert [s["run"] for s in starts] == [killed, engine.run_id]
        assert starts[-1]["options"]["resumed"] == (killed if answer == "y" else None)
        if answer == "y":
            # Resuming goes back to the step that was running, asking first as always.
            await wait_for(pilot, lambda: shows(app, ConfirmModal), "step 1 asks")
            assert app.screen.id == "confirm"
        else:
            assert app.screen is app.main and app.step_running is None
        # Either way the intents left in flight were checked against a fresh read, and the
        # log says so; the killed run is no longer the unfinished one.
        log = app.main.query_one(LogPanel)
        await wait_for(
            pilot,
            lambda: any("2 actions were in flight" in line.text for line in log.lines),
            "the reconciliation to be logged",
        )
        unfinished = journal.unfinished()
        assert unfinished is not None and unfinished.run_id == engine.run_id
