"""The footer never draws one key over another: at 80 columns the keys that do not fit are left
out (help and the palette have every one), and the palette key stays whole at the right."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from textual.widgets import Footer

from widgets import FittingFooter

from .conftest import AppFactory, connected, footer_keys, wait_for


def _spans(app: Any) -> list[tuple[str, int, int]]:
    keys = footer_keys(app.main).values()
    return sorted((key.action, key.region.x, key.region.right) for key in keys if key.region.width)


@pytest.mark.parametrize("width", [80, 100, 120])
async def test_footer_keys_never_overlap_and_the_rest_are_in_the_palette(
    make_app: AppFactory, width: int
) -> None:
    app = make_app(users=12)
    async with app.run_test(size=(width, 24)) as pilot:
        await connected(pilot)
        footer = app.main.query_one(Footer)
        assert isinstance(footer, FittingFooter)
        await wait_for(pilot, lambda: _spans(app), "the footer's keys")
        await pilot.pause()
        spans = sorted(_spans(app), key=lambda s: s[1])
        for (_a, _x, right), (action, x, _r) in itertools.pairwise(spans):
            assert x >= right, f"{action} is drawn over the key before it: {spans}"
        assert all(right <= width for _a, _x, right in spans), spans
        actions = {a for a, _x, _r in spans}
        assert "command_palette" in actions and {"help", "quit", "run_step"} <= actions
        # What the footer left out is a key away in the palette (and in help).
        palette = {action for _t, _h, action in app.main.palette_commands()}
        assert set(footer.dropped) <= palette
        if width == 80:
            assert footer.dropped, "at 80 columns not every key fits"
