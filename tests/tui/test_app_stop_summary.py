"""A stop is quiet and quick (issue 12): one summary line of counts ("Step 1 stopped: 4,599 not
sent, 400 deleted — run again to continue"), no error and no line per action or object; the
rows never sent read "not started" (not "unsent", nor "skipped"); quitting afterwards does no per-object work.

scripts/bench_stop_quit.py prints the stop and quit times at 5,000 users.
"""

from __future__ import annotations

import re

from services.models import StepId
from widgets import LogPanel, RemainingTable

from .conftest import AppFactory, connected, toasts, wait_for
from .test_app_runs import LONG_RUN, NO_SYNC, _deleted, _records, _slow_deletes, _start_step_1

SUMMARY = re.compile(
    r"Step 1 stopped: (?P<not_sent>[\d,]+) not sent, (?P<deleted>[\d,]+) deleted"
    r"(?:, (?P<unfinished>[\d,]+) not finished)? — run again to continue \(r\)\."
)


def _number(text: str | None) -> int:
    return int((text or "0").replace(",", ""))


async def test_a_stop_says_one_line_of_counts_and_unsent_rows_read_not_started(
    make_app: AppFactory,
) -> None:
    app = make_app(users=LONG_RUN, **NO_SYNC)
    async with app.run_test() as pilot:
        await connected(pilot)
        _slow_deletes(app)
        await _start_step_1(pilot)
        log = app.main.query_one(LogPanel)
        before = log.entry_count
        await pilot.press("s")
        await wait_for(pilot, lambda: app.step_running is None, "the step to stop")
        await pilot.pause(0.3)  # the flush timer: any line still on its way is shown

        # Every line the stop wrote, Graph calls aside (their own detail level).
        lines = [line.text for line in log.lines][-(log.entry_count - before) :]
        said = [t for t in lines if " GET " not in t and " POST " not in t]
        summaries = [m for t in said if (m := SUMMARY.search(t))]
        assert len(summaries) == 1, said
        counts = summaries[0]
        not_sent = _number(counts["not_sent"])
        deleted = _number(counts["deleted"])
        unfinished = _number(counts["unfinished"])
        assert deleted == _deleted(app) > 0
        assert not_sent == sum(r["count"] for r in _records(app, "not-sent")) > 0
        assert not_sent + deleted + unfinished == LONG_RUN - 1
        # Quiet: no error for a stop that was asked for, no line per action or per object.
        assert not any("Stopped on request" in t for t in said), said
        assert not any("(the run stopped first)" in t for t in said), said
        assert not any("delete-user " in t for t in said), said
        assert [t for t in toasts(app) if "stopped" in t] == [counts.group(0)]

        users = app.main.query_one("#table-users", RemainingTable)
        statuses = [users.status_of(key) for key in users.keys()]  # noqa: SIM118 (a table)
        assert statuses.count("not-sent") == not_sent
        # What the admin reads on such a row: the word, as the table draws it.
        unsent = next(key for key in users.keys() if users.status_of(key) == "not-sent")  # noqa: SIM118
        shown = users.get_row(unsent)[0]
        assert str(shown) == "not started", shown
        assert "pending" not in statuses
        assert app.step_states[StepId.DELETE_USERS].status.name != "DONE"

        # Quitting after the stop does no per-object work: no read, no write, one run-end.
        journal = app.engine.journal if app.engine else None
        assert journal is not None
        kinds_before = len(journal.records())
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None, "the app to quit")
    added = [r["kind"] for r in journal.records()[kinds_before:]]
    assert added == ["run-end"], added
