"""Coming back (issue 12): a resume says what it resumes (which step, how many done and in
flight, when it stopped); after a clean quit the next start says "Step 1 was stopped at
400/4,999 … — r continues" with that step selected (test_app_demo_kept.py, which goes on to the
end); and it says what changed since the admin left, from the journal against a fresh read.

A second launch on the same demo folder finds the tenant the first one kept there (``--demo``
keeps its tenant between launches), as a relaunched ``closeout --demo`` does.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from textual.widgets import Static

from app.closeout_app import CloseoutApp
from app.screens.dialogs import ConfirmModal
from services.demo_folder import DemoFolder
from services.journal.writer import Journal
from services.models import StepId
from services.sandbox import Sandbox, SandboxConfig
from services.sandbox.http import GraphHttpError
from services.sandbox.saved_state import capture, restore
from services.sandbox.seed import build_tenant

from .conftest import AppFactory, connected, toasts, wait_for
from .test_app_resume import SEED, USERS


def _left(app: CloseoutApp) -> None:
    """What the process's end does that a Pilot test's does not: the session closed (the
    journal and the tenant's lock closed, the demo tenant saved in its folder)."""
    assert app.session is not None and app.session.journal is not None
    app.session.close()


@contextmanager
def _kept_tenant(state: Path) -> Iterator[Sandbox]:
    """The demo tenant kept in ``state``, to change while closeout is away (as the admin
    center does), saved again afterwards."""
    folder = DemoFolder(state)
    saved = folder.load()
    assert saved is not None
    sandbox = restore(saved, SandboxConfig(users=saved.users, seed=saved.seed))
    folder.lock("test")
    try:
        yield sandbox
        folder.write_state(capture(sandbox).encode())
    finally:
        folder.release()


def _kill_after_one_deletion(state: Path) -> str:
    """A killed run's journal: step 1 had deleted one user and had two more in flight."""
    tenant = build_tenant(SandboxConfig(users=USERS, seed=SEED))
    victims = [u for u in tenant.users.values() if u.id != tenant.admin_id][:3]
    journal = Journal(tenant.org.id, root=state).open()
    try:
        run = journal.start_run("tui", options={"resumed": None})
        journal.write_intents(
            {"step": 1, "action": "delete-user", "object": u.id, "label": u.user_principal_name}
            for u in victims
        )
        journal.write_outcomes(
            [{"step": 1, "action": "delete-user", "object": victims[0].id, "result": "done"}]
        )
    finally:
        journal.close()
    return run


async def test_resume_says_which_step_how_many_done_and_in_flight_and_when(
    make_app: AppFactory, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    killed = _kill_after_one_deletion(state)
    app = make_app(users=USERS, seed=SEED, state_root=state)
    tenant = None
    async with app.run_test() as pilot:
        await connected(pilot, top=ConfirmModal)
        tenant = app.engine.caller.tenant.id if app.engine else None
        body = " ".join(str(s.content) for s in app.screen.query(Static))
    assert tenant is not None
    written = [r for r in Journal(tenant, root=state).records() if r["run"] == killed]
    assert killed in body and "2 actions were in flight" in body
    assert "step 1 Delete users was running" in body, body
    assert "1 done" in body, body
    last = written[-1]["t"]  # when the killed run last wrote: about when it stopped
    assert f"{last[:10]} {last[11:16]} UTC" in body, body


async def test_the_next_start_says_what_changed_since_the_admin_left(
    make_app: AppFactory, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    first = make_app(users=USERS, seed=SEED, state_root=state)
    async with first.run_test() as pilot:
        await connected(pilot)
        assert first.step_states[StepId.CANCEL_SUBSCRIPTIONS].status.waiting
        await pilot.press("q")
        await wait_for(pilot, lambda: first.return_code is not None, "the app to quit")
    _left(first)
    then = {step: st.status for step, st in first.step_states.items()}
    # While closeout is away, the admin cancels the subscriptions in the admin center.
    with _kept_tenant(state) as sandbox:
        for sub in list(sandbox.tenant.subscriptions.values()):
            with contextlib.suppress(GraphHttpError):
                if sub.self_service:
                    sandbox.delete_self_service_product(sub.id)
                else:
                    sandbox.cancel_subscription(sub.id, as_partner=sub.owner_tenant_id is not None)

    second = make_app(users=USERS, seed=SEED, state_root=state)
    async with second.run_test() as pilot:
        await connected(pilot)
        await wait_for(
            pilot, lambda: any("Since you left" in t for t in toasts(second)), "the news"
        )
        news = next(t for t in toasts(second) if "Since you left" in t)
        assert re.search(r"Since you left \(\d{4}-\d\d-\d\d \d\d:\d\d UTC\):", news), news
        changed = {s for s, st in second.step_states.items() if st.status != then[s]}
        assert StepId.CANCEL_SUBSCRIPTIONS in changed
        assert "step 2 " in news and "waiting on you then" in news, news
        # Every step whose status changed, and only those.
        for step in StepId:
            assert (f"step {int(step)} " in news) == (step in changed), (step, news)
