"""The headless close-out: the contract scripts and tests rely on (``closeout run --headless``).

Runs every step the API allows, prints each state change (or one JSON object per line), hands
off what needs a person, waits and watches (unless ``--no-wait``), and ends with a documented
exit code. Without ``--yes`` nothing destructive runs; step 5's irreversible cleanup also needs
``--confirm-domain`` equal to the initial domain.

With ``--json`` every line is one object with ``time`` (UTC, ISO 8601), ``step`` (0–5, or null)
and ``event``: ``plan``, ``resume``, ``step``, ``confirmed``, ``item``, ``progress``,
``handoff``, ``note``, ``missing``, ``wait`` (what closeout waits for, why, and until when),
``waiting``, ``heartbeat``, ``not-sent``, ``failed``, ``stopped``, ``error``, and last ``exit``
with the exit code.

While it waits it prints a heartbeat line every minute (``heartbeat``: the steps it waits for,
for how long, and when it reads Graph next), so that a log shows the run is alive.

One module each: :mod:`.drive` (the run loop, what it may do, and the outcome it ends with),
:mod:`.report` (engine events as lines or JSON lines), :mod:`.heartbeat` (the line a
waiting run prints every minute) and :mod:`.text` (``closeout plan`` and ``closeout status``
as text or JSON). Import from the module that owns a name; this package re-exports nothing.
"""
