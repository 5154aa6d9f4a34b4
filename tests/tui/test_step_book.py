"""The app's book of step states, the one model the checklist, the progress bar and the
"Remaining" line read: a running step's count moves on with the outcomes taken in the same
flush as the row marks, from the count it had when it began, never past what the last Graph
read counted; the bar shows the running step, never the pace of another run."""

from __future__ import annotations

from datetime import UTC, datetime

from app.bridge import EngineBridge
from app.step_book import StepBook
from services.models import (
    ItemFinished,
    ProgressUpdated,
    StepChanged,
    StepId,
    StepState,
    StepStatus,
)

STEP = StepId.DELETE_USERS
NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)


def _progress(done: int, total: int, failed: int = 0, step: StepId = STEP) -> ProgressUpdated:
    return ProgressUpdated(step, done, total, failed, 12.0, done, 3000)


def _finished(n: int, action: str = "delete-user", outcome: str = "done") -> ItemFinished:
    return ItemFinished(STEP, action, f"u{n}", f"user{n}", outcome, 204, None, None, None, NOW)


def _bridge() -> tuple[EngineBridge, list[object]]:
    posted: list[object] = []
    return EngineBridge(posted.append), posted


def test_every_step_is_pending_until_reported() -> None:
    book = StepBook()
    book.report(StepState(STEP, StepStatus.DONE))
    book.fill(list(StepId))
    assert set(book.states) == set(StepId)
    assert book.states[STEP].status == StepStatus.DONE  # filling keeps what was reported
    assert book.states[StepId.PREPARE].status == StepStatus.PENDING


def test_counts_move_with_the_outcomes_taken_with_the_marks() -> None:
    bridge, _posted = _bridge()
    book = StepBook()
    running = StepState(STEP, StepStatus.RUNNING, done=10, total=100)
    bridge.sink(StepChanged(running))
    book.report(running)
    # Turning directory sync off is a write of step 1, but not one of the users it counts:
    # its progress report (1 of 1) must not become the bar's count.
    bridge.sink(_finished(0, action="disable-directory-sync"))
    bridge.sink(_progress(1, 1))
    for n in range(1, 6):
        bridge.sink(_finished(n))
    bridge.sink(_finished(6, outcome="failed"))
    pending = bridge.take()
    assert set(pending.marks["users"]) == {f"u{n}" for n in range(1, 7)}
    book.take(pending.live, pending.progress)
    state = book.states[STEP]
    assert (state.done, state.total, state.failed) == (15, 100, 1)  # 5 marked deleted
    view = book.run_view(STEP)
    assert (view.done, view.total, view.failed) == (15, 100, 1)  # the checklist's numbers
    assert view.write_quota == 3000 and view.eta_seconds == 12.0

    # The run's state message handled after the flush does not take the count back.
    book.report(running)
    assert book.states[STEP].done == 15


def test_an_ended_run_leaves_no_count_or_pace_behind() -> None:
    bridge, posted = _bridge()
    book = StepBook()
    running = StepState(STEP, StepStatus.RUNNING, done=0, total=3)
    bridge.sink(StepChanged(running))
    book.report(running)
    for n in range(5):  # more than the read counted: never past its total
        bridge.sink(_finished(n))
    bridge.sink(_progress(5, 5))
    done = StepState(STEP, StepStatus.DONE, done=3, total=3)
    bridge.sink(StepChanged(done))
    pending = bridge.take()
    # The run ended before the flush: its last state is the message's, not a buffered count,
    # and it comes with the run's last marks (taken before the message is handled, the
    # checklist would otherwise count fewer than the rows marked deleted).
    assert pending.live == {STEP: done} and not pending.progress
    assert len(pending.marks["users"]) == 5
    book.take(pending.live, pending.progress)
    assert book.states[STEP] == done and STEP not in book.progress
    book.report(done)
    assert book.states[STEP] == done and STEP not in book.progress
    assert posted  # the states themselves are messages

    # A new run drops the last run's state still buffered; its count is capped at the
    # read's total.
    bridge.sink(StepChanged(running))
    bridge.sink(_finished(9))
    bridge.sink(StepChanged(done))
    bridge.sink(StepChanged(running))
    assert STEP not in bridge.take().live
    bridge.sink(StepChanged(running))
    for n in range(5):
        bridge.sink(_finished(n))
    book.take(bridge.take().live, {})
    assert book.states[STEP].done == 3


def test_the_bar_shows_this_run_never_the_last_ones_pace() -> None:
    book = StepBook()
    book.report(StepState(StepId.PREPARE, StepStatus.RUNNING, total=1))
    book.take({}, {StepId.PREPARE: _progress(1, 1, step=StepId.PREPARE)})
    book.report(StepState(StepId.PREPARE, StepStatus.DONE, done=1, total=1))
    book.report(StepState(StepId.DISABLE_MFA, StepStatus.RUNNING, done=0, total=4))
    view = book.run_view(StepId.DISABLE_MFA)
    assert (view.done, view.total, view.write_quota, view.eta_seconds) == (0, 4, 0, None)
    assert StepId.PREPARE not in book.progress
    # Step 5 counts checks, not the objects its clean-up deletes: the bar counts the writes.
    cleanup = StepId.DELETE_DIRECTORY
    book.report(StepState(cleanup, StepStatus.RUNNING, done=2, total=11))
    book.take({}, {cleanup: _progress(7, 16, step=cleanup)})
    view = book.run_view(cleanup)
    assert (view.done, view.total) == (7, 16)
