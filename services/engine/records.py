"""What the engine records of a run: its start and end in the journal, an outcome for each
write an earlier (or this) run left without one, from a fresh read, its counts, and the
evidence pack at the end.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services import __version__
from services.errors import CloseoutError
from services.evidence.layout import DATA_OWNERS_FILE, default_pack_dir
from services.evidence.rows import LatestOutcomes
from services.evidence.write import write_pack
from services.i18n import _
from services.inventory.model import subscriptions_summary
from services.json_text import read_member
from services.models import Noted
from services.settle import Write, settle

from .planning import Planning

log = logging.getLogger("closeout.engine")


class Recording(Planning):
    """The engine's record of a run (a layer of :class:`~services.engine.Engine`)."""

    # -- runs ----------------------------------------------------------------------------------

    def begin(self, command: str, options: dict[str, Any]) -> str:
        """Start a run in the journal; settle what earlier runs left without a known outcome."""
        if self.recording:
            self.run_id = self._writing.start_run(
                command,
                options=options,
                user=self.caller.tenant.signed_in_upn or "app-only",
                version=__version__,
                plan_digest=self.plan.digest() if self.plan else None,
            )
            pending = self._writing.unsettled()
            if pending:
                self._reconcile(pending)
        return self.run_id

    def _reconcile(self, pending: list[dict[str, Any]], *, at_end: bool = False) -> None:
        """Record an outcome for each write without a known one, from a fresh read.

        A killed process leaves intents without outcomes; a lost or untrustworthy answer
        leaves ``unknown``. Each is read back (:mod:`services.settle`): what Graph carried
        out is recorded ``done``/``gone`` as confirmed by a fresh read, what it did not as
        ``skipped`` (its step sends it again); what no read can settle now stays as it is.
        Intents from before requests were journalled are judged from the inventory
        (deletions only). ``at_end``: the run is ending, so each read is tried once.
        """
        writes: list[Write] = []
        legacy: list[dict[str, Any]] = []
        for intent in pending:
            write = Write.from_intent(intent)
            if write is None:
                legacy.append(intent)
            else:
                writes.append(write)
        outcomes: list[dict[str, Any]] = []
        runs = {str(p.get("run")) for p in pending}
        why = (
            _("Sent, but the answer was lost or could not be trusted")
            if at_end
            else _("In flight or unanswered when run {run} ended").format(
                run=", ".join(sorted(runs))
            )
        )
        for verdict in settle(self.client, writes, retry=not at_end):
            line = verdict.outcome(why)
            if line is not None:
                outcomes.append(line)
        outcomes += self._reconcile_from_inventory(legacy)
        if outcomes:
            self._writing.write_outcomes(outcomes)
        confirmed = sum(1 for o in outcomes if o["result"] in ("done", "gone"))
        left = len(pending) - len(outcomes)
        if at_end:
            # The run's last event has been shown: the log and the evidence pack tell the rest.
            log.info(
                "%d actions had no trustworthy answer: a fresh read settles %d, %d stay unknown",
                len(pending),
                len(outcomes),
                left,
            )
            return
        text = _(
            "{n} actions were in flight when the last run stopped: a fresh read confirms "
            "{gone} of them; their steps redo the others as needed."
        ).format(n=len(pending), gone=confirmed)
        self.emit(Noted("warning" if left else "info", text))

    def _reconcile_from_inventory(self, pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Gone outcomes for legacy intents (no request recorded) whose object a fresh
        inventory no longer lists; the others are left to their steps."""
        if not pending:
            return []
        inv = self.inventory or self.refresh()
        if inv is None:
            return []
        present: dict[str, set[str]] = {
            "delete-user": {u.id for u in inv.users},
            "purge-user": {str(d.get("id")) for d in inv.deleted_users},
            "delete-application": {a.id for a in inv.applications},
            "purge-application": {str(d.get("id")) for d in inv.deleted_applications},
            "delete-service-principal": {sp.id for sp in inv.service_principals},
            "remove-service-principal": {sp.id for sp in inv.service_principals},
            "purge-service-principal": {str(d.get("id")) for d in inv.deleted_service_principals},
            "delete-own-app": {a.id for a in inv.applications}
            | {sp.id for sp in inv.service_principals},
        }
        return [
            {
                "step": intent.get("step"),
                "action": intent.get("action"),
                "object": intent.get("object"),
                "label": intent.get("label", ""),
                "result": "gone",
                "message": _(
                    "In flight when run {run} stopped; a fresh read shows it is gone."
                ).format(run=intent.get("run")),
            }
            for intent in pending
            if intent.get("action") in present
            and str(intent.get("object")) not in present[str(intent.get("action"))]
        ]

    def finish(self, exit_code: int) -> Path | None:
        """Settle what is still unknown, end the run in the journal and write its evidence
        pack; returns the pack's folder.

        Nothing (None) without a run this engine records: a read-only session has no run.
        """
        if not (self.recording and self.run_id):
            return None
        try:
            pending = self._writing.unsettled()
            if pending and not self.gone:
                self._reconcile(pending, at_end=True)
        except (OSError, CloseoutError) as exc:
            log.warning("could not settle unknown outcomes at the end of the run: %s", exc)
        pack = None
        counts: dict[str, int] = {}
        try:
            outcomes = self._outcomes(all_runs=False)
            counts = outcomes.counts() if outcomes is not None else {}
            pack = self._write_pack(outcomes)
        except (OSError, ValueError, CloseoutError) as exc:
            self.emit(
                Noted("error", _("Could not write the evidence pack: {error}").format(error=exc))
            )
        counts = self.tally(counts)
        self._writing.end_run(self.run_id, exit_code, counts)
        self.run_id = ""  # finishing twice must not end the run twice
        return pack

    def tally(self, counts: dict[str, int] | None = None) -> dict[str, int]:
        """This run's outcomes by result (the latest per object; ``counts`` if counted
        already), and ``not-sent``: writes that never went out. Empty without a recorded run."""
        if not (self.recording and self.run_id):
            return {}
        if counts is None:
            outcomes = self._outcomes(all_runs=False)
            counts = outcomes.counts() if outcomes is not None else {}
        counts = dict(counts)
        not_sent = sum(self._writing.not_sent_counts(self.run_id).values())
        if not_sent:
            counts["not-sent"] = not_sent
        return counts

    def journal_warnings(self) -> list[str]:
        """What the admin must hear about the journal itself (damaged lines, and where)."""
        if self.journal is None:
            return []
        text = self.journal.health.warning(self.journal.path)
        return [text] if text else []

    # -- evidence ------------------------------------------------------------------------------

    def write_evidence(self, out_dir: Path | None = None, *, all_runs: bool = False) -> Path:
        """The evidence pack: of this run (or, ``all_runs``, of every run: ``export``)."""
        return self._write_pack(self._outcomes(all_runs=all_runs), out_dir)

    def _outcomes(self, *, all_runs: bool) -> LatestOutcomes | None:
        if self.journal is None:
            return None
        scope = None if all_runs or not self.run_id else self.run_id
        return LatestOutcomes(self.journal, run_id=scope)

    def _write_pack(self, outcomes: LatestOutcomes | None, out_dir: Path | None = None) -> Path:
        # The backup is copied into the pack line by line, never decoded whole (40 MB of JSON
        # at 100,000 users); only its subscriptions are read, for the summary.
        before_path = self.dir / "inventory-before.json"
        inventory: Any
        try:
            subscriptions = read_member(before_path, "subscriptions")
            inventory = before_path
        except (OSError, ValueError):
            subscriptions = None
            inventory = self.inventory.json_chunks() if self.inventory else {}
            if self.inventory is not None:
                subscriptions = self.inventory.subscriptions_json()
        run_id = self.run_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        gone = self.journal.tenant_gone_record() if self.journal is not None else None
        summary = {
            "states": {
                str(int(s)): {"status": str(v.status), "summary": v.summary}
                for s, v in self.states.items()
            },
            "keep": [k.upn for k in self.plan.keep] if self.plan else [],
            "tenantDeleted": self.gone or gone is not None,
            "tenantDeletion": gone,
            "journal": self.journal.health.to_json() if self.journal is not None else None,
            # Writes of this run that never went out: counts (the plan names the objects).
            "notSent": [
                {"step": step, "action": action, "count": n}
                for (step, action), n in sorted(
                    self.journal.not_sent_counts(self.run_id).items()
                    if self.journal is not None and self.run_id
                    else ()
                )
            ],
            # Once the tenant is gone Graph lists none of them any more.
            "subscriptions": subscriptions_summary(
                {"subscriptions": subscriptions},
                [] if self.gone else self.inventory.subscriptions if self.inventory else None,
            ),
        }
        target = out_dir or default_pack_dir(self.caller.tenant.id, run_id, root=self.state_root)
        return write_pack(
            target,
            tenant=self.caller.tenant,
            inventory=inventory,
            outcomes=outcomes.rows() if outcomes is not None else (),
            summary=summary,
            run_id=run_id,
            replace=True,
            warnings=self.journal_warnings(),
            data_owners=owners if (owners := self.dir / DATA_OWNERS_FILE).exists() else None,
        )
