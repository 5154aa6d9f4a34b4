"""Step 1 in the app and directory sync (issue 7, item 2): before the PATCH the confirmation
says what Microsoft recommends first; once a PATCH is journalled the app finds it, shows the
horizon from the journal, and never sends it again, whatever Graph reads meanwhile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.widgets import Static

from app.screens.dialogs import ConfirmModal
from services.journal.records import format_time
from services.journal.writer import Journal
from services.models import StepId, StepStatus
from services.sandbox import SandboxConfig
from services.sandbox.seed import build_tenant

from .conftest import AppFactory, connected, sandbox_of, shows, wait_for

USERS = 40
SEED = 7


def _body(app: object) -> str:
    return " ".join(str(s.content) for s in app.screen.query(Static))  # type: ignore[attr-defined]


def _journal_a_turn_off(state: Path, at: datetime) -> None:
    """What an earlier run (headless, another process) left: the PATCH sent and confirmed."""
    tenant = build_tenant(SandboxConfig(users=USERS, seed=SEED))
    journal = Journal(tenant.org.id, root=state).open()
    try:
        run = journal.start_run("run", options={})
        item = {
            "step": 1,
            "action": "disable-directory-sync",
            "object": tenant.org.id,
            "label": tenant.org.display_name,
        }
        journal.write_intents([item])
        journal.write_outcomes([{**item, "result": "done", "status": 204}])
        journal.note(
            "Directory synchronization turned off",
            step=1,
            action="disable-directory-sync",
            graph_time=format_time(at),
        )
        journal.end_run(run, 3, {"done": 1})
    finally:
        journal.close()


async def test_before_the_patch_the_confirmation_says_to_stop_connect_first(
    make_app: AppFactory,
) -> None:
    app = make_app(users=USERS, seed=SEED)
    async with app.run_test() as pilot:
        await connected(pilot)
        await wait_for(
            pilot,
            lambda: (
                app.step_states.get(StepId.DELETE_USERS) is not None
                and app.step_states[StepId.DELETE_USERS].status == StepStatus.PENDING
            ),
            "step 1 to be assessed",
        )
        await pilot.press("down", "r")
        await wait_for(pilot, lambda: shows(app, ConfirmModal), "the confirmation")
        body = _body(app)
        assert "Turn directory synchronization off?" in body
        assert "uninstalling the sync client" in body and "Cloud Sync" in body
        await pilot.press("n")
        await wait_for(pilot, lambda: not shows(app, ConfirmModal), "the answer")
        assert not [w for w in sandbox_of(app).recorder.writes() if w.method != "GET"]


async def test_a_journalled_turn_off_is_found_and_never_sent_again(
    make_app: AppFactory, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    sent = datetime.now(UTC).replace(microsecond=0)
    _journal_a_turn_off(state, sent)
    # The fresh sandbox still reads sync on everywhere: as if Graph lagged behind the PATCH.
    app = make_app(users=USERS, seed=SEED, state_root=state, time_scale=60, sync_flag="lags")
    async with app.run_test() as pilot:
        await connected(pilot)
        sb = sandbox_of(app)
        assert sb.tenant.org.sync_enabled
        synced = {u.id for u in sb.tenant.users.values() if u.synced}
        cloud_only = {u.id for u in sb.tenant.users.values() if not u.synced} - {sb.admin_id}

        def step1() -> object:
            return app.step_states.get(StepId.DELETE_USERS)

        await wait_for(pilot, lambda: step1() is not None and step1().waiting_until, "step 1")
        st = app.step_states[StepId.DELETE_USERS]
        assert st.status == StepStatus.PENDING  # cloud-only users can go now
        assert abs(st.waiting_until - (sent + timedelta(hours=72))) <= timedelta(seconds=1)
        assert "turning off" in st.summary

        await pilot.press("down", "r")
        await wait_for(pilot, lambda: shows(app, ConfirmModal), "the confirmation")
        body = _body(app)
        assert "Turn directory synchronization off?" not in body and "Delete" in body
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: app.step_running is None and step1().status == StepStatus.WAITING_TIME,
            "step 1 to wait on time",
            timeout=30,
        )
        writes = [w for w in sb.recorder.writes() if w.method != "GET"]
        assert not [w for w in writes if "/organization" in w.path]
        deleted = {e.detail["id"] for e in sb.recorder.events("user-deleted")}
        assert synced and deleted == cloud_only
