"""The evidence pack: one folder per run that proves what was deleted, when and by whom.

Owns the pack's layout and formats: ``inventory-before.json`` (the backup taken before any
change), ``outcomes.csv`` / ``outcomes.json`` (one row per object and action: its latest result,
time, how many times it was sent, HTTP status, Graph code and request id; every attempt stays in
the journal), ``summary.json`` / ``summary.md`` (tenant, signed-in user, tool version, counts,
failures, outcomes still unknown, subscriptions by product name, kept accounts, warnings such as
damaged journal lines) and
``SHA256SUMS`` (so later changes to the files can be detected with ``sha256sum -c``).

A pack is built in a hidden temporary folder beside the target and renamed into place, so a
killed export never leaves half a pack under the final name. UPNs and display names are
attacker-controllable, so CSV cells are escaped against formula injection and Markdown text
against link and markup injection.

One module each: :mod:`.layout` (the pack's files and columns, and where a pack goes),
:mod:`.rows` (the latest outcome per object and action, as rows with spreadsheet-safe cells),
:mod:`.write` (building a pack in pieces, checked for tokens and hashed, and moving it into
place), :mod:`.summary` (``summary.json`` and the Markdown summary) and :mod:`.offline` (a
pack from what closeout kept locally, without Graph). Import from the module that owns a
name; this package re-exports nothing.
"""
