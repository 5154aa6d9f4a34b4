"""widgets.column_fit: the shown columns end at the table's edge, whole; the rest lie beyond."""

from __future__ import annotations

import pytest

from widgets.column_fit import fit_columns, next_column_x

# The users table's columns: status, UPN, type, sync, roles (natural and minimum widths).
NATURAL = [11, 33, 7, 6, 24]
MINIMUM = [11, 33, 7, 6, 12]


def _ends(widths: list[int], padding: int = 1) -> list[int]:
    ends, x = [], 0
    for width in widths:
        x += width + 2 * padding
        ends.append(x)
    return ends


def test_when_everything_fits_the_spare_goes_to_the_widest_column() -> None:
    widths = fit_columns(NATURAL, MINIMUM, 120)
    assert widths[0] == 11 and widths[2:] == [7, 6, 24]
    assert _ends(widths)[-1] == 120  # the UPN took the rest: nothing blank after the roles


def test_a_column_that_does_not_fit_lies_wholly_beyond_the_edge() -> None:
    # The 120-column screen's users pane: 73 cells for the rows.
    widths = fit_columns(NATURAL, MINIMUM, 73)
    ends = _ends(widths)
    assert ends[3] == 73, widths  # status, UPN, type and sync end at the edge…
    assert widths[4] == 24  # …and the roles start there, at their natural width
    assert widths[1] == 41  # the room left over widened the UPN


def test_a_shrinkable_column_shrinks_before_it_is_left_out() -> None:
    widths = fit_columns(NATURAL, MINIMUM, 80)
    assert widths[4] < 24 and _ends(widths)[-1] == 80, widths


def test_the_last_shown_columns_right_padding_may_fall_past_the_edge() -> None:
    # 80 columns: 47 cells; status (13) and UPN (35) need 48, the last one blank.
    widths = fit_columns(NATURAL, MINIMUM, 47)
    assert widths[:2] == [11, 33]
    assert _ends(widths)[1] - 1 == 47


def test_the_first_column_is_shown_even_when_nothing_fits() -> None:
    assert fit_columns([9, 35], [9, 35], 5) == [9, 35]


def test_one_minimum_per_column() -> None:
    with pytest.raises(ValueError, match="one minimum per column"):
        fit_columns([1, 2], [1], 10)


def test_arrows_move_a_column_at_a_time() -> None:
    widths = [13, 43, 9, 8, 26]  # as drawn: starts at 0, 13, 56, 65, 73
    assert next_column_x(widths, 0, 1) == 13
    assert next_column_x(widths, 13, 1) == 56
    assert next_column_x(widths, 60, 1) == 65  # from between two starts, the next one
    assert next_column_x(widths, 73, 1) is None  # the last column is in view
    assert next_column_x(widths, 56, -1) == 13
    assert next_column_x(widths, 0, -1) is None
