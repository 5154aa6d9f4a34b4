"""Keeping big, long-lived loads out of the cyclic garbage collector's full passes.

A tenant of 100,000 users is some 500,000 long-lived objects (the inventory, the plan, the
users table). CPython's full collection walks every tracked object, and it runs whenever the
objects that survived since the last one reach a quarter of the survivors then: about 20 times
in a 100,000-user run, each pause 0.4-1.75 s with the interpreter held, so the UI froze and the
write pacer slipped. ``gc.freeze()`` right after such a load moves everything alive into a
generation the collector never walks; the objects are still freed by their reference counts
when the next load replaces them (none of these structures holds a reference cycle).

The price: cyclic garbage that happens to be waiting at that moment would never be collected.
So a full collection runs first: it walks only what is not frozen yet (what was made since the
last freeze), not the frozen loads. A collection of the young generations alone was not enough:
a bulk step freezes every :data:`FREEZE_FROM` results, more often than full collections come, and
the UI's cyclic garbage that had reached the oldest generation (strips that cache themselves,
screens and toasts gone) was frozen for good: ~66,000 objects by the end of a 30,000-user step 1.
Freezing happens only after loads of at least :data:`FREEZE_FROM` rows (the inventory, a plan,
the users table, a bulk step's items) and every :data:`FREEZE_FROM` results of a bulk step; a
long wait's small polls freeze nothing.
"""

from __future__ import annotations

import gc

__all__ = ["FREEZE_FROM", "settle_after_load"]

FREEZE_FROM = 5_000
"""Rows loaded from which a load is worth keeping out of full collections."""


def settle_after_load(rows: int) -> bool:
    """After loading ``rows`` long-lived rows: collect the garbage that is not frozen, then
    freeze what is alive (see the module docstring). Returns whether it froze."""
    if rows < FREEZE_FROM:
        return False
    gc.collect()
    gc.freeze()
    return True
