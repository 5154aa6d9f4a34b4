"""How far the Graph client goes: the largest ``$batch``, how long it waits on throttling or an
outage before it says so, which answers it retries, and which waits it announces.
"""

from __future__ import annotations

from services.i18n import N_

__all__ = ["ANNOUNCE_AFTER", "ASKED", "MAX_BATCH", "MAX_WAIT", "OUTAGE_LIMIT", "OUTAGE_TRIES"]

MAX_BATCH = 20
MAX_WAIT = 300.0
"""Real seconds: a ``Retry-After`` longer than this (or throttling one request for longer) is
reported as a wait instead of slept through: five minutes of silence is where an admin starts
wondering, and Graph's own waits are seconds."""
OUTAGE_LIMIT = 300.0
"""Real seconds a request is retried while Graph cannot be reached, once it has answered."""
OUTAGE_TRIES = 5
"""Tries in a row that must have failed, as well as the limit passed, before an outage is
declared: the limit alone counted a loaded machine's slow retries, so that two dropped
connections in a row on a sandbox's two-second limit ended a run. Real minutes of backoff
make many more tries than this, so for a real tenant the limit is what decides."""
ASKED = N_("Graph asked to wait {seconds}")
ANNOUNCE_AFTER = 1.0
"""Waits this long or longer are announced (the log file has them all)."""
# Retry these unchanged: throttled, server faults, and 424 (THR: a throttled batch may come
# back as 424 instead of 200).
_RETRY_STATUSES = frozenset({429, 424, 500, 502, 503, 504})
_CUT_SHORT_RETRIES = 4
"""Reads again of an answer cut short: three cut in a row (3 % of answers cut, the reliability
suite's malformed close-outs) happened; five in a row is a proxy that always cuts."""
