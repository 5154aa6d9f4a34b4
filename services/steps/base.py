"""What every step works with: the client, the caller, the plan, the journal and the event sink.

Also the one way a step sends writes: :meth:`StepContext.execute` runs batch items through the
executor with the write pacer, writes the journal's intent lines (fsynced) before each batch is
sent and its outcome lines after, settles by a fresh read what got no trustworthy answer, and
reports progress and per-item outcomes to the sink. The first batch of every kind of write goes
out alone: when Graph refuses all of it (403), the run stops there with the permission named
(closeout does not read tokens to know beforehand).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.batch.executor import BatchExecutor
from services.batch.items import BatchItem, ItemResult, Outcome
from services.caller import Caller
from services.control import RunControl
from services.errors import CloseoutError, GraphError
from services.graph.bounds import MAX_BATCH
from services.graph.client import GraphClient
from services.heap import FREEZE_FROM, settle_after_load
from services.i18n import _
from services.inventory.model import Inventory
from services.journal.writer import Journal
from services.keep import KeepEntry, entries_for, protected
from services.models import (
    Event,
    ItemFinished,
    Noted,
    NotSent,
    ProgressUpdated,
    StepId,
    StepState,
    StepStatus,
)
from services.own_app import OwnApp, find_own_app
from services.pacing import WritePacer
from services.plan.model import Plan
from services.settle import request_fields, settle_results

Sink = Callable[[Event], None]


# Writes to applications and service principals other than closeout's own last one.
APP_WRITES = frozenset(
    {
        "delete-application",
        "purge-application",
        "delete-service-principal",
        "disable-service-principal",
        "purge-service-principal",
        "remove-service-principal",
    }
)


class ReadOnlyRefusal(CloseoutError):
    """A step would have to write, but this session is read-only."""


@dataclass
class EngineOptions:
    keep_upns: tuple[str, ...] = ()
    keep_entries: tuple[KeepEntry, ...] = ()
    """Accounts a keep file names or the admin marked (``services.keep``); with ``keep_upns``
    they are kept whatever a saved plan says."""
    read_only: bool = False
    disable_security_defaults: bool = False
    disable_ca_mfa: bool = False
    poll_interval: float = 300.0
    """Real seconds between two reads while waiting on time or a person."""
    write_quota: int = 3000
    write_window: float = 150.0
    """Real seconds (the sandbox's fast clock shortens Graph's 150 s)."""
    concurrency: int = 8
    """``$batch`` POSTs in flight. Under the write quota this sets how fast a window's worth of
    writes goes out (3,000 writes = 150 POSTs: about 19 s at 0.5 s each with 4 in flight, 10 s
    with 8), and with it how close a bulk deletion comes to the quota's floor."""
    verify_attempts: int = 5
    """Re-reads after a bulk delete before a leftover counts (Graph lists with replication delay)."""
    verify_delay: float = 2.0
    ca_spacing: float = 1.1
    """Real seconds between Conditional Access writes: that service allows one request per
    second per tenant and sends no Retry-After (a fast sandbox clock shortens it)."""
    portal_links: dict[str, str] = field(default_factory=dict)
    own_app_ids: frozenset[str] = frozenset()
    """The app ids closeout signs in with (the configured client id, the token's appid/azp)."""
    delete_own_app: bool = False
    """Step 5 deletes closeout's own app as its very last write, instead of handing it over."""


@dataclass
class StepContext:
    client: GraphClient
    caller: Caller
    plan: Plan
    inventory: Inventory
    options: EngineOptions
    control: RunControl
    journal: Journal | None
    sink: Sink
    pacer: WritePacer
    run_id: str = ""
    all_service_principals_removed: bool = False
    """The last resort ran: closeout's own service principal goes too, even Microsoft's."""
    fresh_inventory: Callable[[], Inventory | None] = lambda: None
    """The engine's last inventory if it is current (see Engine.fresh_inventory), else None."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def kept_ids(self) -> frozenset[str]:
        return self.plan.kept_ids

    def own_app(self, inv: Inventory | None = None) -> OwnApp:
        """closeout's own app registration and service principal in ``inv`` (or the context's)."""
        inv = inv or self.inventory
        return find_own_app(
            self.options.own_app_ids,
            inv.applications,
            inv.service_principals,
            microsoft_too=self.all_service_principals_removed,
        )

    @property
    def mfa_exempt_ids(self) -> frozenset[str]:
        """Who keeps MFA: the signed-in admin and the accounts kept with their MFA, or with
        app-only sign-in every kept account."""
        if self.caller.app_only:
            return self.kept_ids
        kept_mfa = {k.id for k in self.plan.keep if k.keep_mfa}
        named = entries_for((), (e for e in self.options.keep_entries if e.keep_mfa))
        ids, _upns = protected(named, self.inventory)
        return frozenset({self.caller.tenant.signed_in_id or "", *kept_mfa, *ids})

    @property
    def never_delete_ids(self) -> frozenset[str]:
        """The kept accounts and, whatever the plan says, the signed-in admin and every
        account the command line, a keep file or a mark names."""
        me = None if self.caller.app_only else self.caller.tenant.signed_in_id
        ids, _upns = self._named_keep()
        return self.kept_ids | ids | ({me} if me else frozenset())

    def _named_keep(self) -> tuple[frozenset[str], frozenset[str]]:
        """``(ids, upns)`` of the accounts the options name (ids and UPNs case-folded; as far as
        the last read resolves them, both for each)."""
        named = entries_for(self.options.keep_upns, self.options.keep_entries)
        return protected(named, self.inventory)

    def _refuse_protected(self, items: list[BatchItem]) -> None:
        # The plan already leaves these out; this is the last line of defence before the wire.
        # It does not trust the plan's own keep list alone: that comes from an editable file.
        never = {i.casefold() for i in self.never_delete_ids}
        _ids, named_upns = self._named_keep()
        mfa_exempt = {i.casefold() for i in self.mfa_exempt_ids}
        ours = self.own_app().object_ids
        for item in items:
            if item.action in APP_WRITES and item.key in ours:
                # closeout's own app goes only by its own action, the last write of step 5.
                raise CloseoutError(
                    _(
                        "Refusing to {action} {label}: it is closeout's own app, which goes last."
                    ).format(action=item.action, label=item.label)
                )
            key = item.key.casefold()
            deletes = item.action in ("delete-user", "purge-user")
            # A UPN the command line or a keep file names is matched on the label too: the
            # last read may not know the account any more (or yet).
            if (deletes and (key in never or item.label.casefold() in named_upns)) or (
                item.action == "disable-mfa" and key in mfa_exempt
            ):
                raise CloseoutError(
                    _("Refusing to {action} {label}: it is an account closeout keeps.").format(
                        action=item.action, label=item.label
                    )
                )

    def emit(self, event: Event) -> None:
        self.sink(event)

    def note(
        self, text: str, *, level: str = "info", step: StepId | None = None, **fields: Any
    ) -> None:
        self.sink(Noted(level, text, step))
        if self.journal is not None:
            self.journal.note(text, level=level, step=None if step is None else int(step), **fields)

    def server_now(self) -> datetime:
        return self.client.server_time() or datetime.now(UTC)

    def require_writable(self, what: str) -> None:
        if self.options.read_only:
            raise ReadOnlyRefusal(
                _("Read-only mode: {what} was not done.").format(what=what),
                _("Run again without --read-only to make changes."),
            )

    # -- bulk writes -----------------------------------------------------------------------

    def _succeeded_before(self, action: str) -> bool:
        """Whether the journal shows ``action`` succeeding on any object (the permission is
        there, then: a 403 now is about the objects)."""
        return self.journal is not None and self.journal.last_success(action) is not None

    def execute(self, step: StepId, items: list[BatchItem]) -> list[ItemResult]:
        """Send ``items`` (all writes) through ``$batch``; journal and report every outcome."""
        if not items:
            return []
        self.require_writable(items[0].action or "a change")
        self._refuse_protected(items)
        total = len(items)
        progress = _Progress(total)
        # The items, and every FREEZE_FROM results as they pile up, are kept out of the full
        # garbage collections: 100,000 of them walked by each one paused the loop for ~1 s.
        settle_after_load(total)
        unsettled = [0]

        def before_send(batch: list[BatchItem]) -> None:
            if self.journal is not None:
                self.journal.write_intents(
                    [
                        {
                            "step": int(step),
                            "action": i.action,
                            "object": i.key,
                            "label": i.label,
                            **request_fields(i),  # what a fresh read needs to settle it
                        }
                        for i in batch
                    ]
                )

        def on_results(results: list[ItemResult]) -> None:
            # One journal write (one fsync) for all the outcomes of a batch: an fsync per item
            # would keep the workers (and the journal's lock) busy for longer than the POST.
            if self.journal is not None:
                self.journal.write_outcomes(
                    [
                        {
                            "step": int(step),
                            "action": r.item.action,
                            "object": r.item.key,
                            "label": r.item.label,
                            "result": str(r.outcome),
                            "status": r.status,
                            "code": r.code,
                            "message": r.message,
                            "request_id": r.request_id,
                        }
                        for r in results
                    ]
                )
            for result in results:
                item = result.item
                self.sink(
                    ItemFinished(
                        step,
                        item.action,
                        item.key,
                        item.label,
                        str(result.outcome),
                        result.status,
                        result.code,
                        result.message,
                        result.request_id,
                        result.finished_at,
                    )
                )
                done, failed, eta = progress.add(result.outcome)
                unsettled[0] += 1
                if unsettled[0] >= FREEZE_FROM:
                    unsettled[0] = 0
                    settle_after_load(FREEZE_FROM)
                if progress.should_report():
                    status = self.pacer.status()
                    self.sink(
                        ProgressUpdated(
                            step, done, total, failed, eta, status.in_window, status.quota
                        )
                    )

        not_sent: list[BatchItem] = []
        executor = BatchExecutor(
            self.client,
            control=self.control,
            pacer=self.pacer,
            concurrency=self.options.concurrency,
            on_results=on_results,
            on_before_send=before_send,
            on_not_sent=not_sent.extend,
        )
        try:
            return self._execute(step, items, executor, on_results, progress)
        finally:
            # After a stop or an outage: one count for what never went out, not a line each.
            self._report_not_sent(step, not_sent)

    def _execute(
        self,
        step: StepId,
        items: list[BatchItem],
        executor: BatchExecutor,
        on_results: Callable[[list[ItemResult]], None],
        progress: _Progress,
    ) -> list[ItemResult]:
        total = len(items)
        # One batch first, alone. If Graph refuses every request in it and this kind of write
        # never succeeded in this tenant, the token or the account lacks what it needs, and
        # the rest would only be refused too: stop with Graph's refusal (it names the
        # permission) before anything else is sent. A refusal of some objects only (a
        # protected account) is theirs: the run goes on and lists them.
        results = executor.run(items[:MAX_BATCH])
        refused = all(
            r.outcome == Outcome.failed and r.status == 403 for r in results
        ) and not self._succeeded_before(items[0].action)
        if not refused:
            results += executor.run(items[MAX_BATCH:])
        # What got no answer that can be trusted is read back now, and sent again only if
        # the read shows it was not carried out.
        results = settle_results(
            self.client,
            self.control,
            int(step),
            results,
            report=on_results,
            resend=executor.run,
        )
        status = self.pacer.status()
        done, failed, _eta = progress.snapshot()
        self.sink(ProgressUpdated(step, done, total, failed, 0.0, status.in_window, status.quota))
        if refused:
            raise _refusal(results[0])
        return results

    def _report_not_sent(self, step: StepId, items: list[BatchItem]) -> None:
        counts: dict[str, int] = {}
        for item in items:
            counts[item.action] = counts.get(item.action, 0) + 1
        for action, n in counts.items():
            if self.journal is not None:
                self.journal.not_sent(int(step), action, n)
            self.sink(NotSent(step, action, n))


def _refusal(result: ItemResult) -> GraphError:
    """Graph's 403 for one item, as the error a direct call would have raised."""
    item = result.item
    return GraphError(
        403,
        result.code or "Authorization_RequestDenied",
        result.message or "",
        method=item.method,
        path=f"/{item.version}{item.url}",
        request_id=result.request_id,
    )


class _Progress:
    """Counts and an ETA from the observed rate; reports at most ~10 times a second."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()
        self._last_report = 0.0
        self._lock = threading.Lock()

    def add(self, outcome: Outcome) -> tuple[int, int, float | None]:
        with self._lock:
            if outcome in (Outcome.done, Outcome.gone):
                self.done += 1
            elif outcome == Outcome.failed:
                self.failed += 1
            return self._snapshot()

    def snapshot(self) -> tuple[int, int, float | None]:
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> tuple[int, int, float | None]:
        finished = self.done + self.failed
        elapsed = time.monotonic() - self.started
        eta = None
        if finished and elapsed > 0:
            eta = (self.total - finished) * elapsed / finished
        return self.done, self.failed, eta

    def should_report(self) -> bool:
        now = time.monotonic()
        with self._lock:
            finished = self.done + self.failed
            if finished >= self.total or now - self._last_report >= 0.1:
                self._last_report = now
                return True
            return False


def state(step: StepId, status: StepStatus, summary: str = "", **kw: Any) -> StepState:
    return StepState(step=step, status=status, summary=summary, **kw)


def horizon(start: datetime | None, hours: float) -> datetime | None:
    return None if start is None else start + timedelta(hours=hours)


def failed_results(results: Iterable[ItemResult]) -> list[ItemResult]:
    return [r for r in results if r.outcome == Outcome.failed]
