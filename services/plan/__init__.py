"""Plan, then apply: per step, the exact objects closeout will act on and what it will do.

A plan is built from a fresh inventory and is read-only to make. The accounts to keep (the
signed-in admin, or with app-only sign-in the ``--keep`` accounts) are never in its delete set,
and at least one kept account must be a Global Administrator, so the last one is never deleted.

One module each: :mod:`.model` (the plan, its actions and kept accounts, and how a plan is
saved and read back with the same digest), :mod:`.build` (a plan from an inventory),
:mod:`.check` (the same safety rules held against a saved plan) and :mod:`.labels` (the
plan's words for its actions, subscriptions and closeout's own app). Import from the module
that owns a name; this package re-exports nothing.
"""
