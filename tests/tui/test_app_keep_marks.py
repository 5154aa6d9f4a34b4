"""Marking users to keep in the TUI: ``k`` cycles the row under the cursor (kept → kept with
MFA → not kept), ``K`` keeps every row the filter shows; the plan is made again in a worker,
saved, and shows each one "marked in closeout"; the keys are in the palette (and the footer,
where it has room)."""

from __future__ import annotations

import json
from typing import Any

from app.closeout_app import CloseoutApp
from services.keep import MARKED
from services.paths import tenant_dir
from widgets import RemainingTable

from .conftest import AppFactory, connected, sandbox_of, toasts, wait_for


def _users(app: CloseoutApp) -> RemainingTable:
    return app.main.query_one("#table-users", RemainingTable)


async def _said(pilot: Any, app: CloseoutApp, text: str) -> None:
    await wait_for(pilot, lambda: any(text in t for t in toasts(app)), repr(text))


def _kept(app: CloseoutApp) -> dict[str, tuple[str, bool]]:
    assert app.engine is not None and app.engine.plan is not None
    return {k.id: (k.reason, k.keep_mfa) for k in app.engine.plan.keep}


async def test_k_and_shift_k_mark_users_to_keep_and_the_plan_saves_them(
    make_app: AppFactory, tmp_path: Any
) -> None:
    app = make_app(users=30, synced_fraction=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await connected(pilot)
        sb = sandbox_of(app)
        titles = {c.title for c in app.get_system_commands(app.main)}
        assert {"Keep user (k)", "Keep all shown (K)"} <= titles

        table = _users(app)
        table.focus()
        await pilot.pause()
        table.move_cursor(row=3)
        await pilot.pause()
        one = table.cursor_key
        assert one is not None and one != sb.admin_id
        assert table.status_of(one) == "pending"

        await pilot.press("k")
        assert table.status_of(one) == "kept"  # shown at once, before the plan is made
        await _said(pilot, app, "1 user marked to keep")
        assert _kept(app)[one] == (MARKED, False)
        assert one not in app.engine.plan.user_delete_ids()

        await pilot.press("k")  # kept, and step 4 leaves its MFA on
        await _said(pilot, app, "1 user kept with MFA left on")
        assert _kept(app)[one] == (MARKED, True)
        assert table.status_of(one) == "kept-mfa"
        assert one not in app.engine.plan.ids("disable-mfa")

        await pilot.press("k")  # the mark comes off
        await _said(pilot, app, "1 mark taken off")
        assert one not in _kept(app)
        assert table.status_of(one) == "pending"
        assert one in app.engine.plan.user_delete_ids()

        # K: every user the filter shows, in one plan.
        guests = {u.id for u in sb.tenant.users.values() if u.user_type == "Guest"}
        assert guests
        await pilot.press("slash", *"guest", "enter")
        await wait_for(pilot, lambda: set(table.shown_keys()) == guests, "the filter")
        await pilot.press("K")
        await _said(pilot, app, f"{len(guests)} users marked to keep")
        assert {i for i, (reason, _m) in _kept(app).items() if reason == MARKED} == guests
        assert all(table.status_of(g) == "kept" for g in guests)
        saved = json.loads((tenant_dir(sb.tenant_id, root=tmp_path / "state") / "plan.json").read_text())
        assert {k["id"] for k in saved["keep"] if k["reason"] == MARKED} == guests

        await pilot.press("K")  # all shown are kept: their marks come off
        await _said(pilot, app, f"{len(guests)} marks taken off")
        assert not guests & set(_kept(app))
        assert all(table.status_of(g) == "pending" for g in guests)


async def test_keep_says_why_it_cannot_mark(make_app: AppFactory) -> None:
    app = make_app(users=12, synced_fraction=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await connected(pilot)
        sb = sandbox_of(app)
        table = _users(app)
        await pilot.press("t", "k")  # the subscriptions tab
        await _said(pilot, app, "Only users can be kept")
        await pilot.press("t", "t", "t")
        table.focus()
        await pilot.pause()
        row = table.shown_keys().index(sb.admin_id)
        table.move_cursor(row=row)
        await pilot.pause()
        assert table.status_of(sb.admin_id) == "kept"
        await pilot.press("k")  # the signed-in admin: kept with MFA, then no mark
        await _said(pilot, app, "1 user kept with MFA left on")
        assert _kept(app)[sb.admin_id][1] and table.status_of(sb.admin_id) == "kept-mfa"
        await pilot.press("k")
        await _said(pilot, app, "1 mark taken off")
        assert not _kept(app)[sb.admin_id][1]
        assert table.status_of(sb.admin_id) == "kept"  # the admin stays kept
