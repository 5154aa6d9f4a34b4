"""How wide each column of a table is drawn, for the width the table has.

Owns one rule, so that no column is ever cut bare at the pane's edge (a header "Rol", a value
with no "…"): the leading columns are shown whole, each at least its minimum width, as many as
fit; the rest lie entirely beyond the right edge, a key away (→ scrolls to them, Enter shows the
row whole). Room left over widens the shown columns that had to shrink back to their natural
widths, and what remains goes to the widest shown column (a table's name or UPN), so that the
shown columns end exactly at the edge.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

__all__ = ["fit_columns", "next_column_x"]


def fit_columns(
    natural: Sequence[int], minimum: Sequence[int], room: int, *, padding: int = 1
) -> list[int]:
    """Content widths of the columns for a table ``room`` cells wide.

    ``natural``: each column's width when there is room; ``minimum``: the least it may shrink
    to (equal to ``natural`` for a column that never shrinks). ``padding``: blank cells on each
    side of every cell; the last shown column's right padding may fall past the edge, since it
    is blank. A column that does not fit keeps its natural width (it is scrolled to, whole).
    """
    if len(natural) != len(minimum):
        raise ValueError("one minimum per column")
    widths = [max(m, 0) for m in minimum]
    used = 0
    shown = 0
    for width in widths:
        need = width + 2 * padding
        if shown and used + need - padding > room:
            break
        used += need
        shown += 1
    spare = room - used
    flexible = [i for i in range(shown) if natural[i] > widths[i]]
    for i in flexible:
        grow = min(spare, natural[i] - widths[i])
        if grow <= 0:
            break
        widths[i] += grow
        spare -= grow
    if spare > 0 and shown:
        # The shown columns end at the edge: nothing of a hidden one peeks in.
        widest = max(range(shown), key=lambda i: natural[i])
        widths[widest] += spare
    for i in range(shown, len(widths)):
        widths[i] = max(natural[i], widths[i])
    return widths


def next_column_x(render_widths: Sequence[int], x: int, step: int) -> int | None:
    """Where the next column (``step`` > 0) or the previous one starts, seen from the scroll
    position ``x``; None when there is none."""
    starts = list(itertools.accumulate(render_widths[:-1], initial=0))
    if step > 0:
        return next((s for s in starts if s > x), None)
    return next((s for s in reversed(starts) if s < x), None)
