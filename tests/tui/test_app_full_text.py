"""Nothing that matters is cut, and focus shows: Enter on a log line or a table row shows it
whole; the focused pane's border changes its lines; the log's title says its level (``l``)."""

from __future__ import annotations

from app.screens.full_text import FullTextModal
from widgets import LogPanel, RemainingTable, StepChecklist

from .conftest import AppFactory, connected, sandbox_of, shows, wait_for

LONG = "batch 7: " + " ".join(f"user{i:03}@fabrikam.example failed 403" for i in range(12))


async def test_enter_on_a_log_line_shows_it_whole_and_l_shows_the_level(
    make_app: AppFactory,
) -> None:
    app = make_app(users=12)
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        log = app.main.query_one(LogPanel)
        assert log.border_title == "Log · level: info (l)"
        await pilot.press("l")
        assert log.border_title == "Log · level: warning (l)"
        await pilot.press("l", "l", "l")  # error, debug, back to info
        assert log.border_title == "Log · level: info (l)"

        log.write_line("error", LONG)
        log.write_line("info", "the last line")
        await pilot.pause()
        log.focus()
        await pilot.pause()
        await pilot.press("up", "up")  # the cursor starts on the last line: up is the long one
        await pilot.press("enter")
        await wait_for(pilot, lambda: shows(app, FullTextModal), "the line shown whole")
        assert isinstance(app.screen, FullTextModal)
        assert app.screen.body == LONG and len(LONG) > 80
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.main, "the modal to close")


async def test_enter_on_a_row_shows_every_cell_whole(make_app: AppFactory) -> None:
    app = make_app(users=12)
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        sb = sandbox_of(app)
        table = app.main.query_one("#table-users", RemainingTable)
        table.focus()
        await pilot.pause()
        row = table.shown_keys().index(sb.admin_id)
        table.move_cursor(row=row)
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: shows(app, FullTextModal), "the row shown whole")
        body = app.screen.body  # type: ignore[attr-defined]
        admin = sb.tenant.users.get(sb.admin_id)
        assert f"User: {admin.user_principal_name}" in body
        assert "Status: kept" in body and "Roles: Global Administrator" in body


async def test_the_focused_pane_shows_it_in_its_border(make_app: AppFactory) -> None:
    app = make_app(users=12)
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        checklist = app.main.query_one(StepChecklist)
        table = app.main.query_one("#table-users", RemainingTable)
        log = app.main.query_one(LogPanel)

        def lines() -> tuple[str, str, str]:
            return (
                checklist.styles.border_top[0],
                table.styles.border_left[0],
                log.styles.border_top[0],
            )

        assert checklist.has_focus and lines() == ("heavy", "blank", "solid")
        table.focus()
        await wait_for(pilot, lambda: lines() == ("round", "heavy", "solid"), "the table")
        log.focus()
        await wait_for(pilot, lambda: lines() == ("round", "blank", "heavy"), "the log")
