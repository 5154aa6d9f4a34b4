"""Counts read as words do: "1 user", never "1 users", in the lines the main screen shows
(the Remaining line, a key's reason, the resume question), in English and Swedish."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from textual.widgets import Static

from app.since_left import Resumable, resume_text
from services.i18n import set_language
from services.models import StepId

from .conftest import AppFactory, connected, wait_for


async def test_the_remaining_line_says_1_user_not_1_users(make_app: AppFactory) -> None:
    app = make_app(users=2)  # the admin (kept) and one other
    async with app.run_test() as pilot:
        await connected(pilot)
        line = app.main.query_one("#remaining", Static)
        await wait_for(pilot, lambda: "Remaining:" in str(line.content), "the Remaining line")
        text = str(line.content)
        assert text.startswith("Remaining: 1 user (1 kept) · "), text
        assert "subscriptions" in text  # the others as many as there are


@pytest.mark.parametrize(
    ("lang", "one", "two"),
    [
        ("en", "1 action was in flight", "2 actions were in flight"),
        ("sv", "1 åtgärd pågick", "2 åtgärder pågick"),
    ],
)
def test_the_resume_question_counts_the_actions_in_flight(lang: str, one: str, two: str) -> None:
    at = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    try:
        set_language(lang)
        texts = [resume_text(Resumable("run-1", n, 400, StepId.DELETE_USERS, at)) for n in (1, 2)]
    finally:
        set_language("en")
    assert one in texts[0] and two in texts[1], texts
