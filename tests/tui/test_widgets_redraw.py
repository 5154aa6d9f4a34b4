"""What the widgets a running step updates ten times a second ask of Textual: a repaint of what
changed, not a reflow of the whole screen, and one checklist entry made again, not six.

Counted, not timed, and counted where it is asked for (a widget's ``refresh`` calls, prompts
made), so that a loaded machine's late frame cannot move a count; each test also checks that what
is shown afterwards is right (the cheap path must not show a stale or cut text).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.text import Text
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import Label

from services.models import StepId, StepState, StepStatus
from widgets import LogPanel, RemainingTable, StepChecklist, show_text
from widgets.steady_text import shape


class Host(App[None]):
    CSS = """
    StepChecklist { width: 44; height: auto; }
    LogPanel { height: 6; }
    RemainingTable { height: 8; }
    """

    def __init__(self, *widgets: Widget) -> None:
        super().__init__()
        self._widgets = widgets

    def compose(self) -> ComposeResult:
        yield from self._widgets


class Refreshes:
    """Every refresh ``widget`` asks for from now on, and how many asked for a layout."""

    def __init__(self, widget: Widget) -> None:
        self.calls = 0
        self.layouts = 0
        real = widget.refresh

        def counting(*regions: Any, **kwargs: Any) -> Any:
            self.calls += 1
            self.layouts += bool(kwargs.get("layout"))
            return real(*regions, **kwargs)

        widget.refresh = counting  # type: ignore[method-assign]


def rendered(widget: Widget) -> list[str]:
    return [strip.text for strip in widget.render_lines(Region(0, 0, *widget.outer_size))]


def test_shape_is_the_room_a_text_takes() -> None:
    assert shape("1,234 / 4,812") == shape(Text("9,999 / 9,999")) == ("xxxxx x xxxxx",)
    assert shape("1,234 / 4,812") != shape("12,345 / 48,120")
    assert shape("a b\ncd") != shape("ab c\ncd")  # the same length wraps elsewhere
    assert shape("日本") is None  # two cells a character: only a layout knows


async def test_a_count_of_the_same_shape_repaints_without_a_layout() -> None:
    label = Label()
    app = Host(label)
    async with app.run_test() as pilot:
        show_text(label, "1,234 / 4,812")
        await pilot.pause()
        refreshes = Refreshes(label)
        assert not show_text(label, "1,240 / 4,812")
        assert (refreshes.calls, refreshes.layouts) == (1, 0)
        await pilot.pause()
        assert rendered(label) == ["1,240 / 4,812"]
        # The same text again: not even a repaint is asked for.
        assert not show_text(label, "1,240 / 4,812")
        assert refreshes.calls == 1
        # A longer count needs the room: a layout, and the label grows to show it whole.
        assert show_text(label, "12,400 / 48,120")
        assert refreshes.layouts == 1
        await pilot.pause()
        assert rendered(label) == ["12,400 / 48,120"]
        # A str is shown literally, never read as markup.
        show_text(label, "[b]x[/b]")
        await pilot.pause()
        assert rendered(label)[0].startswith("[b]x[/b]")


async def test_log_lines_move_the_scrollbar_without_a_layout() -> None:
    log = LogPanel()
    app = Host(log)
    async with app.run_test() as pilot:
        log.write_many([("info", f"line {i}") for i in range(20)])
        await pilot.pause()
        refreshes = Refreshes(log)
        for batch in range(3):
            log.write_many([("info", f"more {batch}.{i}") for i in range(5)])
            await pilot.pause()
        assert refreshes.calls and not refreshes.layouts
        assert len(log.lines) == 35
        # The scrollbar knows the new length, and the view still follows the end.
        assert log.vertical_scrollbar.window_virtual_size == 35
        assert log.scroll_y == log.max_scroll_y == 35 - log.scrollable_content_region.height
        assert rendered(log)[-1].rstrip().endswith("more 2.4")


STATES = [
    StepState(StepId.PREPARE, StepStatus.DONE),
    StepState(StepId.DELETE_USERS, StepStatus.RUNNING, done=1234, total=4812),
    StepState(StepId.CANCEL_SUBSCRIPTIONS, StepStatus.WAITING_PERSON),
    StepState(
        StepId.DELETE_SUBSCRIPTIONS,
        StepStatus.WAITING_TIME,
        waiting_until=datetime.now(UTC) + timedelta(days=3),
    ),
    StepState(StepId.DISABLE_MFA),
    StepState(StepId.DELETE_DIRECTORY, StepStatus.BLOCKED),
]


async def test_a_running_steps_count_remakes_its_own_checklist_entry_only() -> None:
    checklist, fresh = StepChecklist(), StepChecklist()
    app = Host(checklist, fresh)
    async with app.run_test(size=(100, 40)) as pilot:
        checklist.update_steps(STATES)
        await pilot.pause()
        made: list[StepId] = []
        real = checklist._wide_prompt

        def counting(state: StepState, *args: Any) -> Text:
            made.append(state.step)
            return real(state, *args)

        checklist._wide_prompt = counting  # type: ignore[method-assign,assignment]
        refreshes = Refreshes(checklist)
        states = list(STATES)
        for done in (1240, 1300, 1420):
            states[1] = replace(states[1], done=done)
            checklist.update_steps(states)
            await pilot.pause()
        assert made == [StepId.DELETE_USERS] * 3
        assert refreshes.calls and not refreshes.layouts
        assert "1,420/4,812" in "".join(rendered(checklist))

        # A state that takes another line: that entry is made again, and the list is laid out.
        made.clear()
        states[4] = replace(states[4], status=StepStatus.FAILED, failed=3, done=1, total=5)
        states[1] = replace(states[1], failed=17)
        checklist.update_steps(states)
        await pilot.pause()
        assert sorted(made) == [StepId.DELETE_USERS, StepId.DISABLE_MFA]

        # What is shown is what a checklist given these states at once shows.
        fresh.update_steps(states)
        await pilot.pause()
        await pilot.pause()
        assert checklist.size == fresh.size
        assert rendered(checklist) == rendered(fresh)


async def test_marks_of_rows_never_drawn_keep_the_drawn_rows_renderings() -> None:
    table = RemainingTable([("upn", "User", 20), ("status", "Status", 9)])
    app = Host(table)
    async with app.run_test() as pilot:
        table.load([(f"u{i}", [f"user{i}@contoso.com", "pending"]) for i in range(200)])
        await pilot.pause()
        rendered(table)  # drawn now, however late the loaded machine's frame comes
        caches = (table._line_cache, table._cell_render_cache, table._row_render_cache)
        drawn = [len(cache) for cache in caches]
        assert all(drawn)
        refreshes = Refreshes(table)
        # A step's marks, far below the rows drawn: nothing drawn is forgotten or repainted.
        table.mark({f"u{i}": "deleted" for i in range(150, 170)})
        assert [len(cache) for cache in caches] == drawn
        assert refreshes.calls == 0
        # A drawn row scrolled out of view, then marked: shown anew when scrolled back.
        table.scroll_to(y=148, animate=False, immediate=True)
        await pilot.pause()
        assert any("user150@" in line and "deleted" in line for line in rendered(table))
        table.mark({"u1": "failed"})
        table.scroll_to(y=0, animate=False, immediate=True)
        await pilot.pause()
        row = next(line for line in rendered(table) if "user1@" in line)
        assert "failed" in row, row
