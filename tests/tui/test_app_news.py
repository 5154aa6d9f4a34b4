"""News when a wait ends in the TUI (issue 12): the terminal bell rings and a toast says it
when a handoff is detected, a wait ends or a step fails, and ``--notify``'s command is called
with the same short JSON body as headless (``services.notify``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from app.screens.dialogs import ConfirmModal
from services.models import StepId, StepStatus
from services.notify import NotifyTarget

from .conftest import AppFactory, connected, sandbox_of, shows, toasts, wait_for
from .test_app_runs import NO_SYNC

RECORD = "import sys, pathlib\npathlib.Path(sys.argv[1]).open('a').write(sys.stdin.read() + '\\n')\n"


def _news(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_a_handoff_detected_rings_the_bell_and_calls_the_notify_command(
    make_app: AppFactory, tmp_path: Path
) -> None:
    script, out = tmp_path / "record.py", tmp_path / "news.jsonl"
    script.write_text(RECORD)
    app = make_app()
    app.notify_target = NotifyTarget(argv=(sys.executable, str(script), str(out)))
    async with app.run_test() as pilot:
        await connected(pilot)
        assert app.step_states[StepId.CANCEL_SUBSCRIPTIONS].status.waiting
        assert app.bells == 0 and _news(out) == []
        # News is a change in a handoff closeout has seen: on a slow machine its first read
        # can come after the admin's click, and then the wait's end is the only news.
        step = StepId.CANCEL_SUBSCRIPTIONS
        await wait_for(pilot, lambda: step in app.handoffs, "step 2's handoff read once")
        # The admin does step 2's part in the (sandbox's) admin center; closeout reads it.
        await pilot.press("2", "A")
        await wait_for(pilot, lambda: app.bells > 0, "the bell")
        await wait_for(
            pilot,
            lambda: any(n["event"] == "handoff-detected" for n in _news(out)),
            "the notify command to be called for the handoff",
        )
        said = toasts(app)
        domain = app.engine.caller.tenant.initial_domain if app.engine else ""
    news = _news(out)
    handoffs = [n for n in news if n["event"] == "handoff-detected"]
    assert handoffs and handoffs[0]["step"] == 2 and handoffs[0]["tenant"] == domain, news
    assert str(handoffs[0]["message"]) in said
    assert set(news[0]) == {"event", "time", "tenant", "step", "message", "exit"}


async def test_a_failed_step_rings_the_bell(make_app: AppFactory) -> None:
    app = make_app(users=60, **NO_SYNC)
    async with app.run_test() as pilot:
        await connected(pilot)
        # Graph refuses every deletion: the step fails, and that is news.
        sandbox_of(app).add_fault(method="DELETE", path=r"^/v1\.0/users/", status=400, times=-1)
        await pilot.press("down", "r")
        await wait_for(pilot, lambda: shows(app, ConfirmModal), "the confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.step_running is None and app.bells > 0, "the bell")
        news = toasts(app, title="News")
        summary = app.step_states[StepId.DELETE_USERS].summary
    assert app.step_states[StepId.DELETE_USERS].status == StepStatus.FAILED
    assert news == [summary], (summary, news)
