"""``--demo`` keeps its tenant between launches (issue 12), so that resume can be tried: start
the demo, stop step 1 part-way, quit; the next launch on the same demo folder finds the tenant
exactly as it was (its users deleted so far gone, its clock going on), says "Step 1 was stopped
at N/M … — r continues" (in a toast and the log, step 1 selected, no question asked) with the
same remaining count, and step 1 goes on from there to the end, no user sent a second DELETE.
``--fresh`` starts a new tenant; a saved state closeout cannot read is said on the sign-in
screen with what to do, and quitting exits 2.

Each launch is a real process's life as far as the demo goes: its session is closed at the end
(the journal closed, the tenant saved, the sandbox gone), and the next launch builds its
sandbox from the saved file alone.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from textual.widgets import Static

from app.closeout_app import CloseoutApp
from app.screens.sign_in import SignInScreen
from services.models import StepId, StepStatus
from services.sandbox import Sandbox
from widgets import RemainingTable, StepChecklist

from .conftest import AppFactory, connected, sandbox_of, shows, toasts, wait_for
from .test_app_runs import LONG_RUN, NO_SYNC, _deleted, _slow_deletes, _start_step_1


def _ended(app: CloseoutApp) -> Sandbox:
    """What the process's end does that a Pilot test's does not: the session closed (the
    tenant saved in the demo's folder). Returns the sandbox that served this launch."""
    sandbox = sandbox_of(app)
    assert app.session is not None
    app.session.close()
    return sandbox


def _user_deletes(*sandboxes: Sandbox) -> Counter[str]:
    """Successful user DELETEs per user, over every launch's sandbox."""
    return Counter(
        r.path.rsplit("/", 1)[-1]
        for sb in sandboxes
        for r in sb.recorder.records()
        if r.method == "DELETE" and r.path.startswith("/v1.0/users/") and 200 <= r.status < 300
    )


def _users_left(app: CloseoutApp) -> int:
    return app.main.query_one("#table-users", RemainingTable).remaining


async def test_step_1_stopped_quit_and_relaunched_goes_on_where_it_stopped(
    make_app: AppFactory, tmp_path: Path
) -> None:
    demo = tmp_path / "demo"
    first = make_app(users=LONG_RUN, state_root=demo, **NO_SYNC)
    async with first.run_test() as pilot:
        await connected(pilot)
        _slow_deletes(first)
        await _start_step_1(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: first.step_running is None, "the step to stop")
        deleted = _deleted(first)
        await pilot.press("q")
        await wait_for(pilot, lambda: first.return_code is not None, "the app to quit")
    assert 0 < deleted < LONG_RUN - 1
    one = _ended(first)
    clock_stood = one.clock.now()
    assert sorted(p.name for p in demo.iterdir()) == ["demo.lock", "sandbox.state", "tenants"]

    second = make_app(users=LONG_RUN, state_root=demo, **NO_SYNC)
    async with second.run_test() as pilot:
        await connected(pilot)
        two = sandbox_of(second)
        assert two is not one  # built from the file alone
        # The tenant as it was: the same users left, those deleted in the recycle bin…
        assert {u.id for u in two.tenant.users.values()} == {
            u.id for u in one.tenant.users.values()
        }
        assert len(two.tenant.deleted_users) == len(one.tenant.deleted_users)
        # …and its clock going on from where it stood, not from the start.
        assert two.clock.now() >= clock_stood
        said = re.compile(
            rf"Step 1 was stopped at {deleted:,}/{LONG_RUN - 1:,} on "
            r"\d{4}-\d\d-\d\d \d\d:\d\d UTC — r continues\."
        )
        await wait_for(pilot, lambda: any(said.search(t) for t in toasts(second)), "news")
        await wait_for(
            pilot, lambda: any(said.search(t) for t in _log_lines(second)), "the log line"
        )
        assert any("The demo tenant as you left it" in t for t in _log_lines(second))
        assert second.screen is second.main  # no question: the run had ended cleanly
        assert second.main.query_one(StepChecklist).selected == StepId.DELETE_USERS
        resumed = second.step_states[StepId.DELETE_USERS]
        assert (resumed.done, resumed.total) == (deleted, LONG_RUN - 1)
        # The same remaining count: the users the first launch left (the admin, kept, among
        # them), all in the table, none of them final.
        left = len(one.tenant.users)
        assert left == LONG_RUN - deleted
        await wait_for(pilot, lambda: _users_left(second) == left, f"{left} users in the table")
        await pilot.press("r")
        await wait_for(pilot, lambda: second.screen.id == "confirm", "step 1 asks")
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: second.step_states[StepId.DELETE_USERS].status == StepStatus.DONE,
            "step 1 to finish",
            60,
        )
    _ended(second)

    deletes = _user_deletes(one, two)
    assert len(deletes) == LONG_RUN - 1  # every user but the signed-in admin…
    assert max(deletes.values()) == 1, deletes.most_common(3)  # …each sent one DELETE


def _log_lines(app: CloseoutApp) -> list[str]:
    from widgets import LogPanel

    return [line.text for line in app.main.query_one(LogPanel).lines]


async def test_fresh_starts_a_new_tenant(make_app: AppFactory, tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    first = make_app(users=40, state_root=demo)
    async with first.run_test() as pilot:
        await connected(pilot)
        sandbox_of(first).clock.advance(5 * 86400)
        with sandbox_of(first).lock:
            tenant = sandbox_of(first).tenant
            gone = next(u for u in tenant.users.values() if u.id != tenant.admin_id)
            tenant.users.remove(gone.id)
        await pilot.press("q")
        await wait_for(pilot, lambda: first.return_code is not None, "the app to quit")
    _ended(first)

    kept = make_app(users=40, state_root=demo)
    async with kept.run_test() as pilot:
        await connected(pilot)
        assert gone.id not in sandbox_of(kept).tenant.users
    _ended(kept)

    fresh = make_app(users=40, state_root=demo, fresh=True)
    async with fresh.run_test() as pilot:
        await connected(pilot)
        sandbox = sandbox_of(fresh)
        assert gone.id in sandbox.tenant.users  # seeded again
        assert sandbox.clock.now() < 5 * 86400  # a new clock
        assert not any("as you left it" in line for line in _log_lines(fresh))
        journal = fresh.engine.journal if fresh.engine else None
        assert journal is not None
        assert [r["kind"] for r in journal.records()].count("run-start") <= 1
    _ended(fresh)


async def test_a_saved_state_closeout_cannot_read_is_said_and_exits_2(
    make_app: AppFactory, tmp_path: Path
) -> None:
    demo = tmp_path / "demo"
    demo.mkdir(mode=0o700)
    (demo / "sandbox.state").write_bytes(b"not a demo state\n")
    app = make_app(users=40, state_root=demo)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: shows(app, SignInScreen), "the sign-in screen")
        screen = app.screen
        status = screen.query_one("#sign-in-status", Static)
        await wait_for(
            pilot, lambda: "cannot be read" in str(status.content), "the message on screen"
        )
        text = str(status.content)
        assert "closeout --demo --fresh" in text, text
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None, "the app to quit")
    assert app.closeout_code == 2
    assert (demo / "sandbox.state").read_bytes() == b"not a demo state\n"  # left as it was
