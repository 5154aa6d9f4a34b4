"""Reliability suite: whole close-outs under faults and SIGKILLs, and the figures they give.

Each trial closes a sandbox tenant end to end through closeout's real path (``run --headless``
confirming everything, the admin's portal part played through the sandbox's control endpoints
once closeout hands it over) and then asks the sandbox what really happened:

* **exact**: the end state is the designed one — the tenant deleted with only the admin left,
  every other user deleted once, the recycle bin empty, no application left, every subscription
  deprovisioned, no non-Microsoft service principal enabled, every MFA-requiring Conditional
  Access policy off, the admin's MFA untouched — and the run exited 0;
* **duplicates**: writes Graph received for an object after it had already carried out the
  same write (a DELETE or PATCH sent again after it was done: "written twice");
* **lost**: objects Graph wrote for closeout that the journal does not record as done or gone,
  and intents left without an outcome (the evidence would deny what Graph did).

Fault trials run one close-out under one kind of fault, injected at random by the sandbox (see
``services/sandbox/faults.py``): 5 % 5xx, 5 % of writes answered 5xx after Graph carried them
out, 429 bursts inside ``$batch``es, dropped connections,
answers lost after Graph acted, slow answers, a token expiring mid-run (signed in through the
device code flow, so that closeout can refresh it), JSON cut off midway, shuffled, missing or
duplicated ``$batch`` answers, overlapping pages, failing next links, and all of them at once.
When the answer to turning directory sync off is lost (a 5xx, a cut connection), closeout
counts it as sent and never resends it within the 72 hours; if users are still synchronized
after them it says so and advises a new plan and step 1 again. A trial then does as advised,
once, and counts it in the ``reruns`` column: the end state is judged after that second run.

Kill trials start the close-out in a process of its own and SIGKILL it at a random moment while
its writes are in flight — in step 1 (turning directory sync off, deleting users), in step 4
(turning MFA-requiring Conditional Access policies and a kept account's per-user MFA off) or in
step 5's cleanup (purging deleted users, deleting applications and service principals,
disabling those that refuse) — then resume with a new run to the end. Every write is slowed a
little on the server so that a kill lands with requests in flight, which Graph then carries out
for a process that no longer exists: the resume must settle them by reading, not by sending
them again.

The data trial closes a tenant whose names attack the admin's terminal (the sandbox's
``--hostile-names``: escapes, C1 controls, bidi overrides, markup, spreadsheet formulas) and
counts raw control characters on every surface — ``plan`` and ``status`` as text and JSON, a
run's text and JSON output, the log file, the journal, each file of the evidence pack, live
formulas in its CSV — and checks that the names are there, visibly escaped. (The TUI's screen
is checked through Textual's Pilot in tests/tui/test_app_hostile_names.py.)

Usage::

    python -m scripts.reliability                 # the full set: 3 close-outs per fault, 20 kills per phase
    python -m scripts.reliability --replay step5:1834647133   # one trial again, by its line
    python -m scripts.reliability --kills 3 --only kills --seed 7 --jobs 1

Every trial's seed derives from ``--seed`` (printed first); a failing trial's line names its
own seed, and ``--replay NAME:SEED`` runs that one trial again (``--output DIR`` keeps the
output of each failing trial's last run). Trials run ``--jobs`` at a time, each in a worker
process (scripts/reliability/pool.py): a trial mostly waits. Fault trials close 120-user
tenants, kill trials 60-user ones (``--users``, ``--kill-users``), on a sandbox clock where 72
hours pass in about 0.4 s. A benchmark-style script: it prints figures and exits 1 when any
trial was not exact, wrote twice or lost a record. ``tests/scripts/test_reliability.py`` runs
the same full set in the default suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the harness the tests drive closeout with: tests/support/
    sys.path.insert(0, str(ROOT))

from scripts.reliability.cli import main  # noqa: E402
from scripts.reliability.model import (  # noqa: E402
    DEFAULT_SEED,
    PHASES,
    PROFILES,
    Profile,
    Trial,
)
from scripts.reliability.trials import Spec, replay, trials  # noqa: E402

__all__ = [
    "DEFAULT_SEED",
    "PHASES",
    "PROFILES",
    "Profile",
    "Spec",
    "Trial",
    "main",
    "replay",
    "trials",
]
