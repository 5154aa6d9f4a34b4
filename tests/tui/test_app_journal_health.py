"""Issue 9, item 11 in the TUI: a damaged journal line is named (how many, where) when the app
connects, in the log and as a notification; another tenant's journal is refused, named."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.screens.sign_in import SignInScreen
from services.journal.writer import Journal
from services.sandbox import SandboxConfig
from services.sandbox.seed import build_tenant
from widgets import LogPanel

from .conftest import AppFactory, connected, sandbox_of, shows, toasts, wait_for

SEED = 7  # make_app's default: the demo tenant's id follows from it


def journal_with_damage(state: Path, tenant_id: str) -> tuple[Path, int]:
    with Journal(tenant_id, root=state) as journal:
        run = journal.start_run("run")
        journal.write_intents(
            [{"step": 1, "action": "delete-user", "object": f"u{i}", "label": ""} for i in range(3)]
        )
        journal.end_run(run, 3)
    lines = journal.path.read_bytes().split(b"\n")
    lines[2] = lines[2][:25]  # a write cut short
    journal.path.write_bytes(b"\n".join(lines))
    return journal.path, 3


async def test_damaged_journal_lines_are_named_when_the_app_connects(
    make_app: AppFactory, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    tenant_id = build_tenant(SandboxConfig(seed=SEED)).org.id
    path, line = journal_with_damage(state, tenant_id)
    app = make_app(state_root=state, seed=SEED)
    async with app.run_test() as pilot:
        await connected(pilot)
        assert sandbox_of(app).tenant_id == tenant_id
        log = app.main.query_one(LogPanel)
        text = f"The journal {path} has 1 damaged lines that could not be read (line {line})"
        await wait_for(
            pilot, lambda: any(text in entry.text for entry in log.lines), "the journal warning"
        )
        # The notification is a message of its own: on a loaded machine it can land a few
        # loop turns after the log line.
        await wait_for(
            pilot,
            lambda: any(text in t for t in toasts(app)),
            "the journal warning's notification",
        )


async def test_another_tenants_journal_is_refused_at_connect(
    make_app: AppFactory, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    tenant_id = build_tenant(SandboxConfig(seed=SEED)).org.id
    other = "0b7e2c1a-5f3d-4e8a-9c6b-1d2e3f4a5b6c"
    with Journal(other, root=state) as journal:
        journal.end_run(journal.start_run("run"), 0)
    ours = Journal(tenant_id, root=state)
    ours.directory.mkdir(parents=True, mode=0o700)
    shutil.copy(Journal(other, root=state).path, ours.path)
    app = make_app(state_root=state, seed=SEED)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: shows(app, SignInScreen), "the sign-in screen")
        screen = app.screen

        def shown() -> str:
            return str(screen.query_one("#sign-in-status").render())

        await wait_for(pilot, lambda: other in shown(), "the refusal")
        assert tenant_id in shown() and "refusing" in shown()
        assert app.engine is None
