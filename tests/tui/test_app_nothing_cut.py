"""Nothing that matters is cut at 80×24: a manual check's name wraps instead of ending in "…",
and Enter on a handoff's watched item shows every column whole (the partner note is the last
one, off screen at 80 columns)."""

from __future__ import annotations

from typing import Any

from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import DataTable

from app.screens.dialogs import ManualChecksModal
from app.screens.full_text import FullTextModal
from app.screens.handoff import HandoffScreen
from app.screens.remaining import USER_COLUMNS
from services.models import StepId
from widgets import HandoffView, RemainingTable, StepChecklist

from .conftest import AppFactory, connected, shows, wait_for


def _drawn(widget: Widget) -> str:
    """What the widget draws, its lines joined (border glyphs included)."""
    width, height = widget.outer_size
    lines = widget.render_lines(Region(0, 0, width, height))
    return "\n".join("".join(segment.text for segment in line) for line in lines)


async def _select(pilot: Any, step: StepId) -> None:
    checklist = pilot.app.main.query_one(StepChecklist)
    await pilot.press(str(int(step)))
    await wait_for(pilot, lambda: checklist.selected == step, f"step {int(step)}")


async def test_every_manual_check_is_read_whole_at_80x24(make_app: AppFactory) -> None:
    app = make_app(users=8)
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        await _select(pilot, StepId.DELETE_DIRECTORY)
        await pilot.press("m")
        await wait_for(pilot, lambda: shows(app, ManualChecksModal), "the manual checks")
        await pilot.pause()
        boxes = list(app.screen.query("WrappingCheckbox"))
        assert len(boxes) >= 3
        longest = max(boxes, key=lambda b: len(str(b.label)))
        assert len(str(longest.label)) > 70  # too long for one line of the dialog at 80
        for box in boxes:
            drawn = _drawn(box)
            assert drawn.count("…") == str(box.label).count("…"), drawn
            words = str(box.label).split()
            assert all(word in drawn for word in words), (words, drawn)


async def test_enter_on_a_handoff_item_shows_its_partner_note_whole(make_app: AppFactory) -> None:
    app = make_app(users=8)
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        await _select(pilot, StepId.CANCEL_SUBSCRIPTIONS)
        await pilot.press("h")
        await wait_for(pilot, lambda: shows(app, HandoffScreen), "the step 2 handoff")
        view = app.screen.query_one(HandoffView)
        table = view.query_one("#handoff-items", DataTable)
        handoff = view.handoff
        assert handoff is not None
        partner = [i for i in handoff.items if "partner" in i.note]
        assert partner, [i.note for i in handoff.items]
        # The note's column starts beyond what the table shows at 80 columns.
        assert "partner" not in _drawn(table)
        table.focus()
        table.move_cursor(row=table.get_row_index(partner[0].object_id))
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: shows(app, FullTextModal), "the item shown whole")
        body = app.screen.body  # type: ignore[attr-defined]
        assert f"Note: {partner[0].note}" in body and "SKU: " in body
        await pilot.press("escape")
        await wait_for(pilot, lambda: shows(app, HandoffScreen), "back to the handoff")
        view.focus()  # Enter with the table not focused answers too
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: shows(app, FullTextModal), "the item shown again")


async def test_at_80x24_the_users_table_shows_status_and_upn_and_every_count(
    make_app: AppFactory,
) -> None:
    app = make_app(users=12)
    async with app.run_test(size=(80, 24)) as pilot:
        await connected(pilot)
        table = app.main.query_one("#table-users", RemainingTable)
        await wait_for(pilot, lambda: table.row_count > 5, "the users")
        await pilot.pause()
        drawn = _drawn(table)
        upns = [table.row_cells(key)[1][1] for key in table.shown_keys()[:8]]
        width = dict((key, w) for key, _label, w in USER_COLUMNS)["upn"]
        long = [u for u in upns if len(u) > width]
        short = [u for u in upns if len(u) <= width - 1]
        assert long and short, upns
        # Status and UPN in view; a UPN longer than its column ends in "…", never cut bare.
        assert "Status" in drawn and "User" in drawn
        assert all(u[: width - 1] + "…" in drawn for u in long), drawn
        assert all(u in drawn for u in short), drawn
        remaining = app.main.query_one("#remaining")
        shown = " ".join(_drawn(remaining).split())
        assert shown.startswith("Remaining:") and shown.endswith("policies"), shown


def _whole_or_ellipsis(value: str, line: str) -> bool:
    """``value`` is drawn whole on ``line``, or cut by its column and ending in "…"."""
    return value in line or any(value[:n] + "…" in line for n in range(1, len(value)))


async def test_at_120x40_every_table_shows_whole_columns_and_scrolls_to_the_rest(
    make_app: AppFactory,
) -> None:
    app = make_app(users=12)
    async with app.run_test(size=(120, 40)) as pilot:
        await connected(pilot)
        pane = app.main.pane
        hidden: dict[str, list[str]] = {}
        for name in ("users", "subscriptions", "apps", "policies"):
            table = pane.table(name)
            await wait_for(pilot, lambda t=table: t.row_count > 2, f"the {name}")  # type: ignore[misc]
            while pane.active_table() is not table:
                await pilot.press("t")
            await wait_for(pilot, lambda t=table: t.size.width > 0, f"the {name} tab")  # type: ignore[misc]
            await pilot.pause()
            lines = _drawn(table).splitlines()
            labels = [label for label, _value in table.row_cells(table.shown_keys()[0])]
            header = " ".join(lines[0].split())
            # The header is the first labels, each whole: no column peeks in cut at the edge.
            shown = next(
                (k for k in range(len(labels), 1, -1) if header == " ".join(labels[:k])), 0
            )
            assert shown >= 2, (header, labels)
            hidden[name] = labels[shown:]
            for row, key in enumerate(table.shown_keys()[:6], start=1):
                for _label, value in table.row_cells(key)[:shown]:
                    assert _whole_or_ellipsis(value, lines[row]), (name, value, lines[row])
        # The users' roles do not fit beside a whole UPN: → twice brings them into view.
        assert hidden["users"] == ["Roles"], hidden
        users = pane.table("users")
        while pane.active_table() is not users:
            await pilot.press("t")
        users.focus()
        await pilot.press("right", "right")
        await pilot.pause()
        drawn = _drawn(users)
        roles = [r for k in users.shown_keys() if (r := users.row_cells(k)[4][1])]
        assert "Roles" in drawn.splitlines()[0] and roles, drawn
        assert roles[0] in drawn, drawn
