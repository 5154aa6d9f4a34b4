"""The main screen's keys, driven by Pilot against the demo tenant: what each key does, and
which keys are greyed out (``check_action`` → None) or hidden (False) and when."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest
from textual.notifications import Notify
from textual.widgets import Checkbox, Input, Static, TabbedContent

from app.closeout_app import CloseoutApp
from app.main import run_tui
from app.messages import StepStateChanged
from app.screens.dialogs import ManualChecksModal, TypedConfirmModal
from app.screens.help import HelpScreen
from app.screens.main_screen import MainScreen
from services.exit_codes import ExitCode
from services.journal.writer import Journal
from services.models import StepId, StepState, StepStatus
from services.session import SessionOptions
from services.steps.directory import MANUAL_ITEMS
from widgets import LogPanel, RemainingTable, StepChecklist

from .conftest import (
    AppFactory,
    MessageLog,
    connected,
    footer_keys,
    footer_shows,
    sandbox_of,
    shows,
    wait_for,
)


def _enabled(main: MainScreen, action: str) -> bool | None:
    return main.check_action(action, ())


async def test_step5_delete_is_greyed_out_until_steps_1_to_4_are_done(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await connected(pilot)
        main = app.main
        assert _enabled(main, "delete_directory") is None
        await footer_shows(pilot, main, "delete_directory", enabled=False)
        await pilot.press("D")
        assert app.screen is main, "D opened something while steps 1-4 are not done"

        # Three of the four earlier steps done is not enough.
        for step in (StepId.DELETE_USERS, StepId.CANCEL_SUBSCRIPTIONS, StepId.DELETE_SUBSCRIPTIONS):
            app.post_message(StepStateChanged(StepState(step, StepStatus.DONE)))
        app.post_message(StepStateChanged(StepState(StepId.DELETE_DIRECTORY)))
        await wait_for(
            pilot,
            lambda: app.step_states[StepId.DELETE_SUBSCRIPTIONS].status == StepStatus.DONE,
            "the states to arrive",
        )
        assert _enabled(main, "delete_directory") is None

        app.post_message(StepStateChanged(StepState(StepId.DISABLE_MFA, StepStatus.DONE)))
        await wait_for(pilot, lambda: _enabled(main, "delete_directory") is True, "D to be allowed")
        await footer_shows(pilot, main, "delete_directory", enabled=True)
        await pilot.press("D")
        await wait_for(pilot, lambda: shows(app, TypedConfirmModal), "the typed confirmation")


async def test_keys_follow_the_step_and_the_run_state_and_help_lists_them_all(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await connected(pilot)
        main = app.main
        checklist = main.query_one(StepChecklist)
        assert checklist.selected == StepId.PREPARE and checklist.has_focus
        # Nothing runs: pause and stop are greyed out; the sandbox's admin center key is shown.
        # (At 80 columns the footer leaves out the keys that do not fit, these among them:
        # they are in help and the palette; what it shows, it shows in their state.)
        for action in ("pause", "stop"):
            assert _enabled(main, action) is None
            await footer_shows(pilot, main, action, enabled=False, if_it_fits=True)
        assert _enabled(main, "play_portal") is True
        await footer_shows(pilot, main, "play_portal", enabled=True, if_it_fits=True)
        assert _enabled(main, "run_step") is True  # step 0: re-read and plan

        await pilot.press("down")
        assert checklist.selected == StepId.DELETE_USERS
        assert _enabled(main, "run_step") is True
        assert _enabled(main, "handoff") is None  # step 1 has no handoff

        await pilot.press("down")
        assert checklist.selected == StepId.CANCEL_SUBSCRIPTIONS
        # A step no API can do is not "run": it has a handoff instead.
        assert _enabled(main, "run_step") is None
        assert _enabled(main, "handoff") is True
        await footer_shows(pilot, main, "run_step", enabled=False)
        await footer_shows(pilot, main, "handoff", enabled=True)

        # At 80 columns the footer cannot show every key: help and quit come first, so they
        # are never the ones cut off (help lists the rest).
        keys = footer_keys(main)
        room = keys["command_palette"].region.x
        for action in ("help", "quit", "run_step"):
            assert keys[action].region.right <= room, f"{action} is cut off at 80 columns"

        # The footer cannot show them all: help lists every key, and Esc closes it.
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: shows(app, HelpScreen), "the help screen")
        lines = [str(s.content) for s in app.screen.query(Static)]
        listed: set[str] = set()
        for line in lines:
            keys_shown, _sep, _what = line.partition("  ")
            listed.update(k.strip(",") for k in keys_shown.split())
        for binding in MainScreen.BINDINGS:
            shown = binding.key_display or binding.key  # type: ignore[union-attr]
            assert shown in listed, f"help does not list {shown!r}"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is main, "help to close")

        # Wider, every step and its state line show without scrolling the checklist.
        await pilot.resize_terminal(120, 40)
        await wait_for(pilot, lambda: not main.has_class("-narrow"), "the wide layout")
        await pilot.pause()
        assert checklist.max_scroll_y == 0
        assert len(checklist.options) == 6


async def test_t_cycles_the_tabs_and_slash_filters_the_users(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await connected(pilot)
        main = app.main
        tabs = main.query_one(TabbedContent)
        seen = [tabs.active]
        for _ in range(4):
            await pilot.press("t")
            seen.append(tabs.active)
        assert seen == ["tab-users", "tab-subscriptions", "tab-apps", "tab-policies", "tab-users"]

        users = main.query_one("#table-users", RemainingTable)
        total = users.row_count
        upns = [users.get_row_at(row)[1].plain for row in range(total)]
        needle = upns[3].split("@")[0].split(".")[0]  # a first name in the demo tenant
        expected = sum(needle in u for u in upns)
        assert 0 < expected < total

        await pilot.press("slash")
        box = main.query_one("#filter", Input)
        assert box.display and box.has_focus
        await pilot.press(*needle)  # letters that are bound keys (r, t, a…) go to the box
        assert box.value == needle and tabs.active == "tab-users"
        await wait_for(pilot, lambda: users.row_count == expected, "the filter to apply")
        for row in range(users.row_count):
            assert needle in users.get_row_at(row)[1].plain

        await pilot.press("escape")
        await wait_for(pilot, lambda: users.row_count == total, "Esc to clear the filter")
        assert not box.display and box.value == ""
        assert main.query_one(StepChecklist).has_focus


def _ticks(app_state: Path, tenant_id: str) -> list[tuple[str, bool]]:
    records = Journal(tenant_id, root=app_state).records()
    return [(r["key"], r["done"]) for r in records if r["kind"] == "tick"]


async def test_manual_check_ticks_are_journalled(make_app: AppFactory, tmp_path: Path) -> None:
    app = make_app(state_root=tmp_path / "state")
    first = next(iter(MANUAL_ITEMS))
    async with app.run_test() as pilot:
        await connected(pilot)
        tenant = sandbox_of(app).tenant_id
        assert _ticks(tmp_path / "state", tenant) == []

        # Esc changes nothing.
        await pilot.press("m")
        await wait_for(pilot, lambda: shows(app, ManualChecksModal), "the checks")
        await pilot.press("space", "escape")
        await wait_for(pilot, lambda: app.screen is app.main, "the checks to close")
        assert _ticks(tmp_path / "state", tenant) == []

        # Tick the first check and save: journalled, and shown ticked next time.
        await pilot.press("m")
        await wait_for(pilot, lambda: shows(app, ManualChecksModal), "the checks")
        # At 80x24 the dialog is taller than the screen: it opens at its top (the title and
        # the instruction to tick only what was checked), it scrolls, and Tab reaches Save.
        dialog = app.screen.query_one(".dialog")
        await pilot.pause()
        assert dialog.max_scroll_y > 0 and dialog.scroll_y == 0
        # Past every check and Cancel: Save.
        await pilot.press(*["tab"] * (len(MANUAL_ITEMS) + 1))
        save = app.screen.query_one("#save")
        assert save.has_focus and dialog.content_region.contains_region(save.region)
        await pilot.press(*["shift+tab"] * (len(MANUAL_ITEMS) + 1))
        await pilot.press("space", "ctrl+s")
        await wait_for(pilot, lambda: app.screen is app.main, "the checks to be saved")
        assert _ticks(tmp_path / "state", tenant) == [(first, True)]
        assert app.engine is not None and app.engine.ticks() == {first}

        await pilot.press("m")
        await wait_for(pilot, lambda: shows(app, ManualChecksModal), "the checks")
        box = app.screen.query_one(f"#check-{first}", Checkbox)
        assert box.value is True
        await pilot.press("space", "ctrl+s")  # untick
        await wait_for(pilot, lambda: app.screen is app.main, "the checks to be saved")
        assert _ticks(tmp_path / "state", tenant) == [(first, True), (first, False)]


async def test_refresh_replan_export_and_log_level(make_app: AppFactory) -> None:
    app = make_app()
    # Every toast, kept: the app's own list forgets one once its few seconds are over.
    toasts = MessageLog()
    async with app.run_test(message_hook=toasts) as pilot:
        await connected(pilot)
        sandbox = sandbox_of(app)
        engine = app.engine
        assert engine is not None

        def said() -> list[str]:
            return [str(m.notification.message) for m in toasts.of(Notify)]

        reads = sandbox.recorder.count(method="GET", path_prefix="/v1.0/users")
        await pilot.press("g")
        await wait_for(
            pilot,
            lambda: sandbox.recorder.count(method="GET", path_prefix="/v1.0/users") > reads,
            "g to re-read the users",
        )
        # A read that finds nothing new changes nothing on screen: the key says it acted.
        assert "Reading the tenant again from Graph…" in said()

        def plans() -> int:
            return sum(1 for r in engine.journal.records() if r.get("text") == "plan made")  # type: ignore[union-attr]

        before = plans()
        await pilot.press("n")
        await wait_for(pilot, lambda: plans() == before + 1, "n to make a new plan")
        assert "Making a new plan (step 0)…" in said()
        await wait_for(pilot, lambda: app.step_running is None, "the re-plan to finish")

        # e writes a pack each time it is pressed, each in a folder of its own (a second
        # press once met the first's folder, and wrote nothing, saying nothing).
        evidence = engine.dir / "evidence"
        for presses in (1, 2):
            await pilot.press("e")
            await wait_for(
                pilot,
                # e's own folders ("<run>-export-<time>"), not a run's pack beside them.
                lambda n=presses: len(list(evidence.glob("*-export-*/summary.json"))) == n,
                "e to write the evidence pack",
            )

        def packs_said() -> list[str]:
            return [t for t in said() if t.startswith("Evidence pack: ")]

        # The pack is on disk a moment before its message reaches the UI: wait for the toast.
        await wait_for(pilot, lambda: len(packs_said()) == 2, "both packs to be said")
        assert len(packs_said()) == 2, packs_said()

        log = app.main.query_one(LogPanel)
        assert log.min_level == "info"
        await pilot.press("l")
        assert log.min_level == "warning"


async def test_quit_when_idle_ends_the_run_and_shuts_textual_down(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await connected(pilot)
        main = app.main
        engine = app.engine
        assert engine is not None and engine.journal is not None
        run_id = engine.run_id
        assert run_id
        # Printing to stderr while the app runs must work: Textual captures it and flushes
        # through App._flush, and an app method of that name once broke every print.
        print("closeout test: stderr works", file=sys.stderr, flush=True)
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None, "q to quit")
    assert app.return_value == app.return_code == 3  # waiting: the close-out is not complete
    ends = [r for r in engine.journal.records() if r["kind"] == "run-end"]
    assert [(r["run"], r["exit_code"]) for r in ends] == [(run_id, 3)]
    assert not main.is_attached


async def test_a_crash_is_reported_not_swallowed(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    # Textual prints a crash's traceback in its own teardown (App._shutdown); an app method
    # of that name once replaced it: the traceback vanished and the exit code was 0.
    def crash() -> None:
        raise RuntimeError("a bug in a message handler")

    app = make_app()
    with pytest.raises(RuntimeError, match="a bug in a message handler"):
        async with app.run_test() as pilot:
            await connected(pilot)
            app.call_later(crash)
            await wait_for(pilot, lambda: app.return_code is not None, "the crash to end the app")
    assert app.return_code == 1
    assert "a bug in a message handler" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("ending", "expected"),
    [("quit", ExitCode.WAITING), ("crash", ExitCode.FAILED)],
)
def test_run_tui_exit_code(monkeypatch: pytest.MonkeyPatch, ending: str, expected: int) -> None:
    def run(self: CloseoutApp, **_kw: object) -> int | None:
        if ending == "crash":
            # What Textual does when an exception ends the app: no result, return code 1.
            self.exit(None, return_code=1)
            return None
        return self.closeout_code

    monkeypatch.setattr(CloseoutApp, "run", run)
    assert run_tui(argparse.Namespace(mouse=False), SessionOptions()) == expected
