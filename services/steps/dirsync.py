"""Turning directory sync off, once: when closeout sent the PATCH, the 72-hour window after it,
and what Graph's flags mean meanwhile (graph-api.md §2.2).

Microsoft documents no "pending" value: while synced users are converted the organization may
still read ``onPremisesSyncEnabled: true``, or ``false`` at once. So Graph cannot say whether
the PATCH was sent; the journal can. A successful PATCH is journalled (its outcome, and a note
with Graph's clock at that moment), and for 72 hours after it closeout never sends it again,
whatever ``GET /organization`` reads; a run, a new process and the TUI all find it there.

Once the 72 hours (and a few hours' grace) are over, users still synchronized mean a sync server
still running turned sync back on (or Microsoft is much slower than it says): that is said
plainly, and sending the PATCH again takes a plan made after that.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.i18n import _, ngettext
from services.journal.writer import Journal
from services.timestamps import parse_time

ACTION = "disable-directory-sync"
WINDOW = timedelta(hours=72)
"""Deactivation takes up to 72 hours, cannot be cancelled and blocks any other sync change
meanwhile (EPS); sync cannot be turned back on within 72 hours (DIRSYNC)."""
GRACE = timedelta(hours=6)
"""How long after the 72 hours users may still be synchronized before closeout concludes that
sync was turned back on: "up to 72 hours" is Microsoft's estimate, not a deadline to the second."""


@dataclass(frozen=True)
class TurnOff:
    """The latest PATCH that turned sync off, as the journal records it."""

    at: datetime
    """When it was sent: on Graph's clock where the journal has it, else this machine's."""
    confirmed: bool
    """False: the run stopped with the PATCH in flight, so it may have reached Graph."""

    @property
    def until(self) -> datetime:
        """The end of the 72 hours: the horizon shown while waiting."""
        return self.at + WINDOW

    @property
    def overdue_at(self) -> datetime:
        """From here on, users still synchronized mean sync is on again."""
        return self.until + GRACE

    def window_open(self, now: datetime) -> bool:
        return now < self.until

    def overdue(self, now: datetime) -> bool:
        return now >= self.overdue_at


# Graph's clock at each journalled turn-off, by (journal file, outcome time): finding it means
# reading the whole journal, which a run polling step 1 every few seconds should do only once.
_graph_times: dict[tuple[str, str], datetime] = {}


def last_turn_off(
    journal: Journal | None, now: datetime, *, in_flight: bool = True
) -> TurnOff | None:
    """The latest turn-off the journal records, confirmed or possibly sent; None if none.

    ``in_flight``: also look for one a dead run may have sent, which means reading the whole
    journal; only worth it while users are synchronized (before the first PATCH the journal
    holds little), never on every poll of a tenant without sync.
    """
    if journal is None:
        return None
    done = journal.last_success(ACTION)
    if done is None:
        return _in_flight(journal.iter_records(), after=None) if in_flight else None
    key = (str(journal.path), done.isoformat())
    if key not in _graph_times:
        _graph_times[key] = _graph_time(journal.iter_records(), done) or done
    confirmed = TurnOff(_graph_times[key], True)
    if not confirmed.overdue(now):
        return confirmed
    # After the window a new plan may have sent it again, and that one may be in flight.
    return (_in_flight(journal.iter_records(), after=done) if in_flight else None) or confirmed


def _graph_time(records: Iterable[dict[str, Any]], done: datetime) -> datetime | None:
    found = None
    for rec in records:
        at = parse_time(rec.get("t"))
        if (
            rec.get("kind") == "note"
            and rec.get("action") == ACTION
            and at is not None
            and at >= done
        ):
            found = parse_time(rec.get("graph_time")) or found
            break
    return found


def _in_flight(records: Iterable[dict[str, Any]], *, after: datetime | None) -> TurnOff | None:
    """An intent to turn sync off that no outcome followed (the process died mid-request)."""
    pending: datetime | None = None
    for rec in records:
        if rec.get("action") != ACTION:
            continue
        at = parse_time(rec.get("t"))
        if at is None or (after is not None and at <= after):
            continue
        if rec.get("kind") == "intent":
            pending = at
        elif rec.get("kind") == "outcome" and rec.get("result") != "unknown":
            # "unknown": sent, its answer lost, and no read could tell yet: still possibly sent.
            pending = None
    return None if pending is None else TurnOff(pending, False)


def connect_advice() -> str:
    """What the turn-off-sync article recommends first (DIRSYNC), said before the PATCH."""
    return _(
        "Microsoft recommends uninstalling the sync client (Microsoft Entra Connect Sync or "
        "Cloud Sync) before turning sync off for good. At least stop it first: a sync server "
        "still running can turn sync back on once the 72 hours are over."
    )


def back_on_summary(turn_off: TurnOff, synced: int) -> str:
    """Step 1's one line once users are still synchronized after the window and its grace:
    only what is known. Unconfirmed, the request may never have taken effect at all."""
    if not turn_off.confirmed:
        return ngettext(
            "{n} user is still synchronized, more than 72 hours after closeout's request to "
            "turn directory sync off, whose answer never came: sync may never have turned off.",
            "{n} users are still synchronized, more than 72 hours after closeout's request to "
            "turn directory sync off, whose answer never came: sync may never have turned off.",
            synced,
        ).format(n=synced)
    return ngettext(
        "Directory sync is probably on again: {n} user is still synchronized, more than 72 "
        "hours after closeout turned it off.",
        "Directory sync is probably on again: {n} users are still synchronized, more than 72 "
        "hours after closeout turned it off.",
        synced,
    ).format(n=synced)


def back_on_text(turn_off: TurnOff, synced: int) -> str:
    """The plain words for sync that is on again after the window, and what to do."""
    if not turn_off.confirmed:
        # Its answer was lost or untrustworthy (a 5xx, a cut connection, a kill): the PATCH
        # may never have taken effect, which a still-running sync server cannot be blamed for.
        return ngettext(
            "closeout sent the request to turn directory sync off on {when:%Y-%m-%d %H:%M} UTC "
            "but got no answer it could trust, and more than 72 hours later {n} user is still "
            "synchronized: the request may never have taken effect, or a sync server still "
            "running (Microsoft Entra Connect Sync or Cloud Sync) turned sync back on. Stop or "
            "uninstall any sync server, then make a new plan (closeout plan, or n in the app) "
            "and run step 1 again: closeout then turns sync off once more.",
            "closeout sent the request to turn directory sync off on {when:%Y-%m-%d %H:%M} UTC "
            "but got no answer it could trust, and more than 72 hours later {n} users are still "
            "synchronized: the request may never have taken effect, or a sync server still "
            "running (Microsoft Entra Connect Sync or Cloud Sync) turned sync back on. Stop or "
            "uninstall any sync server, then make a new plan (closeout plan, or n in the app) "
            "and run step 1 again: closeout then turns sync off once more.",
            synced,
        ).format(when=turn_off.at, n=synced)
    return ngettext(
        "closeout turned directory sync off on {when:%Y-%m-%d %H:%M} UTC, and more than 72 "
        "hours later {n} user is still synchronized: a sync server still running (Microsoft "
        "Entra Connect Sync or Cloud Sync) has probably turned sync back on. Stop or uninstall "
        "it, then make a new plan (closeout plan, or n in the app) and run step 1 again: "
        "closeout then turns sync off once more.",
        "closeout turned directory sync off on {when:%Y-%m-%d %H:%M} UTC, and more than 72 "
        "hours later {n} users are still synchronized: a sync server still running (Microsoft Entra Connect "
        "Sync or Cloud Sync) has probably turned sync back on. Stop or uninstall it, then make a "
        "new plan (closeout plan, or n in the app) and run step 1 again: closeout then turns "
        "sync off once more.",
        synced,
    ).format(when=turn_off.at, n=synced)


def unknown_text() -> str:
    """Said while the organization's sync flag cannot be read (graph-api.md §2.2, ORGGET)."""
    return _(
        "Whether directory sync is on is unknown: Graph shows the organization's "
        "onPremisesSyncEnabled only to a sign-in with Organization.Read.All (or "
        "Directory.Read.All), and this one reads it as null. closeout does not take that for "
        "off; grant Organization.Read.All and sign in again to know."
    )


def flag_back_on_text(turn_off: TurnOff) -> str:
    return _(
        "The organization reads directory sync on again, more than 72 hours after closeout "
        "turned it off on {when:%Y-%m-%d %H:%M} UTC: a sync server still running (Microsoft Entra Connect "
        "Sync or Cloud Sync) may synchronize users back. Stop or uninstall it."
    ).format(when=turn_off.at)
