"""The app's book of step states: the running step's counts move with its progress, from the
count it had when it began, and never past what the last Graph read counted."""

from __future__ import annotations

from app.step_book import StepBook
from services.models import ProgressUpdated, StepId, StepState, StepStatus

STEP = StepId.DELETE_USERS


def _progress(done: int, total: int, failed: int = 0) -> ProgressUpdated:
    return ProgressUpdated(STEP, done, total, failed, None, 0, 0)


def test_every_step_is_pending_until_reported() -> None:
    book = StepBook()
    book.report(StepState(STEP, StepStatus.DONE))
    book.fill(list(StepId))
    assert set(book.states) == set(StepId)
    assert book.states[STEP].status == StepStatus.DONE  # filling keeps what was reported
    assert book.states[StepId.PREPARE].status == StepStatus.PENDING


def test_progress_counts_on_from_where_the_run_began() -> None:
    book = StepBook()
    book.report(StepState(STEP, StepStatus.RUNNING, done=10, total=100))
    assert book.advance(_progress(5, 90, failed=1))
    assert (book.states[STEP].done, book.states[STEP].failed) == (15, 1)
    assert book.advance(_progress(40, 90))
    assert book.states[STEP].done == 50  # from the base, not from the last progress


def test_progress_is_ignored_when_it_cannot_be_placed() -> None:
    book = StepBook()
    assert not book.advance(_progress(1, 1))  # never reported
    book.report(StepState(STEP, StepStatus.RUNNING, done=10, total=100))
    assert not book.advance(_progress(1, 95))  # more than the read counted: wait for a read
    assert book.states[STEP].done == 10
    book.report(StepState(STEP, StepStatus.DONE, done=100, total=100))
    assert not book.advance(_progress(2, 90))  # the step has ended
    assert book.states[STEP].done == 100
