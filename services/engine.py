"""The closure engine: reads the tenant, keeps the plan, assesses the steps from fresh Graph
reads and runs the ones an API allows. The headless CLI and the TUI both drive it. Which steps
there are, in which order, and how each is assessed and run, it takes from the step registry
(:mod:`services.steps.registry`), not from branches of its own.

A step is never "done" from its own actions: :meth:`Engine.assess` re-reads Graph. Steps whose
prerequisites hold may proceed while an earlier one waits on time or a person (step 4 while
subscriptions deprovision); step 5's cleanup needs steps 1–4 done, its checks green and the
typed initial domain.

The engine records (journal lines, the saved plan, the inventory backup, the evidence pack at
the end of a run) only while it is :attr:`Engine.recording`: it holds the tenant's journal open
for writing, which a ``--read-only`` session never does. Everything else it keeps in memory,
manual-check ticks included, so a read-only run leaves nothing a later real run would trust.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import __version__
from .caller import Caller
from .control import RunControl
from .deletion_evidence import reports_tenant_missing
from .errors import AuthError, CloseoutError, GraphError
from .evidence import LatestOutcomes, default_pack_dir, write_pack
from .graph import GraphClient
from .heap import settle_after_load
from .i18n import _, ngettext
from .inventory import PARTS, Inventory, subscriptions_summary, take_inventory
from .journal.writer import TENANT_GONE_EVIDENCE, Journal
from .json_text import read_member, write_private_chunks
from .keep import MARKED, entries_for, marks_of
from .models import (
    Event,
    Handoff,
    HandoffUpdated,
    Noted,
    StepChanged,
    StepId,
    StepState,
    StepStatus,
)
from .pacing import WritePacer
from .paths import refuse_symlink, tenant_dir, tenant_path
from .plan import Plan, PlanOptions, build_plan, check_plan
from .requirements import Missing, hinted_missing, learned_missing, missing_for
from .settle import Write, settle
from .steps import delete_directory, directory, last_resort, registry
from .steps.base import EngineOptions, StepContext
from .steps.step import Asking, Assessing, Confirmation, Ran

log = logging.getLogger("closeout.engine")

POLICY_REUSE = 5.0  # seconds
FRESH = 30.0
"""Seconds a read stays current for the next one within the same pass, if nothing was written
since it began: a run reads the tenant once before a step, not again for the step itself, and
once after it, not again for the next assessment. Any wait, and any write, makes it stale."""


class ConfirmationMismatch(CloseoutError):
    """The typed domain is not the tenant's initial domain: nothing was changed."""


class Engine:
    def __init__(
        self,
        client: GraphClient,
        caller: Caller,
        *,
        options: EngineOptions,
        authority_base: str,
        journal: Journal | None = None,
        sink: Callable[[Event], None] | None = None,
        state_root: Path | None = None,
        control: RunControl | None = None,
    ) -> None:
        self.client = client
        self.caller = caller
        self.options = options
        self.authority_base = authority_base
        self.journal = journal
        self._sink = sink or (lambda event: None)
        self.state_root = state_root
        self.dir = tenant_path(caller.tenant.id, root=state_root)
        self.pacer = WritePacer(options.write_quota, options.write_window)
        self.control = control or client.control or RunControl()
        """The session's control: a step's own control (:meth:`run_step`) is its child."""
        self.plan: Plan | None = None
        self.inventory: Inventory | None = None
        self.states: dict[StepId, StepState] = {s: StepState(s) for s in registry.ids()}
        self.handoffs: dict[StepId, Handoff] = {}
        self.gone = False
        self.due: dict[StepId, frozenset[str]] = {}
        """Per step, what running it now sends first outside the plan (as last assessed)."""
        self.signed_out = False
        """closeout's sign-in stopped working at the portal stage: it watches without one."""
        self._probe_at = -float("inf")
        self._portal_stage: dict[StepId, bool] = {}
        self._own_app_deleted = False
        self._last_resort: bool | None = None
        self._policies_at = -POLICY_REUSE
        self._read = (-1, -float("inf"))
        """(the client's writes_sent when the inventory's read began, when the read ended)."""
        self.run_id = ""
        self._lock = threading.RLock()
        self._unrecorded_ticks: dict[str, bool] = {}
        self._marks_adopted = False

    # -- events --------------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        try:
            self._sink(event)
        except Exception:  # a display problem must never stop a deletion half-way
            log.exception("event sink failed")

    def _set_state(self, new: StepState) -> None:
        with self._lock:
            old = self.states.get(new.step)
            self.states[new.step] = new
        if old != new:
            self.emit(StepChanged(new))
            if self.recording and (old is None or old.status != new.status):
                self._writing.step(int(new.step), str(new.status), new.summary)

    @property
    def recording(self) -> bool:
        """Whether this engine writes the record (journal, saved plan, evidence at the end).

        Only with the journal open for writing: reading commands (status, plan, export) and
        ``--read-only`` sessions never open it, and a read-only engine never records even if
        handed an open one.
        """
        return not self.options.read_only and self.journal is not None and self.journal.is_open

    @property
    def _writing(self) -> Journal:
        """The journal, for the writes made only while :attr:`recording`; asking for it
        otherwise is a bug in the engine, not a state of the tenant."""
        if self.journal is None or not self.recording:
            raise RuntimeError("the engine wrote to a journal it is not recording in")
        return self.journal

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

    # -- requirements and reading ---------------------------------------------------------------

    def missing(self) -> list[Missing]:
        """What stops a run: missing roles, permissions the sign-in did not get, and, when the
        permissions are unknown, the parts of the tenant Graph refused to show (403)."""
        found = missing_for(
            self.caller,
            registry.STEPS,
            read_only=self.options.read_only,
            disable_security_defaults=self.options.disable_security_defaults,
            disable_ca=self.options.disable_ca_mfa,
        )
        if self.caller.permissions is None and self.inventory is not None:
            found += learned_missing(self.inventory.denied)
        return found

    def hints(self) -> list[Missing]:
        """Permissions a readable token's claims say are missing: a warning, never a stop."""
        return hinted_missing(
            self.caller,
            registry.STEPS,
            read_only=self.options.read_only,
            disable_security_defaults=self.options.disable_security_defaults,
            disable_ca=self.options.disable_ca_mfa,
        )

    def refresh(self) -> Inventory | None:
        """A fresh inventory; None (and ``gone``) once the tenant no longer exists.

        Also None while closeout watches without a sign-in (``signed_out``): then only the
        tenant's public discovery document is read, gently, until it reports the tenant gone.
        """
        if self.gone:
            return None
        if self.signed_out:
            self._probe_discovery()
            return None
        # Conditional Access allows one request per second per tenant: re-use a read that is
        # only seconds old instead of tripping its limit (its 429s carry no Retry-After).
        recent = self.inventory is not None and time.monotonic() - self._policies_at < POLICY_REUSE
        parts = [p for p in PARTS if not (recent and p == "policies")]
        writes = self.client.writes_sent
        try:
            inv = take_inventory(self.client, self.caller.tenant, parts)
        except (GraphError, AuthError) as exc:
            # Gone only when the refusal names this tenant as not found AND its public
            # discovery document agrees: any other 401 is a token problem, not a deletion.
            tenant = self.caller.tenant
            if reports_tenant_missing(exc, tenant.id, self.caller.domains) and (
                directory.tenant_gone(self.authority_base, tenant.id) is True
            ):
                self.gone = True
                if self.recording:
                    self._writing.tenant_gone("watch", TENANT_GONE_EVIDENCE)
                self.emit(Noted("info", _("The tenant no longer exists.")))
                return None
            if self._sign_in_may_end() and _is_refusal(exc):
                self._start_watching_without_sign_in(exc)
                return None
            raise
        if recent and self.inventory is not None:
            inv.policies = self.inventory.policies
        else:
            self._policies_at = time.monotonic()
        with self._lock:
            self.inventory = inv
            self._read = (writes, time.monotonic())
        settle_after_load(len(inv.users))
        self.emit(inv.as_event())
        return inv

    def fresh_inventory(self, within: float = FRESH) -> Inventory | None:
        """The last inventory if it was read less than ``within`` seconds ago and nothing was
        written since its read began; else None (read again)."""
        with self._lock:
            writes, done = self._read
            if self.inventory is None or writes != self.client.writes_sent:
                return None
            return self.inventory if time.monotonic() - done <= within else None

    # -- watching without a sign-in ---------------------------------------------------------------

    def _sign_in_may_end(self) -> bool:
        """Past the point where closeout's tokens are expected to stop working: it handed the
        portal's part over (the admin may delete closeout's app, then the tenant), or it
        deleted its own app itself."""
        return self._final_stage or self._own_app_deleted

    def _start_watching_without_sign_in(self, exc: CloseoutError) -> None:
        """Graph refuses closeout's token at the portal stage: as expected once its own app or
        the tenant is deleted. A refused token says nothing about the tenant itself, so "gone"
        comes only from the tenant's public discovery document (no token needed), which is
        all that is read from now on."""
        self.signed_out = True
        self.emit(
            Noted(
                "info",
                _(
                    "Microsoft Graph no longer accepts closeout's sign-in ({error}). As expected "
                    "once closeout's app or the tenant is deleted: closeout now watches the "
                    "tenant's public sign-in metadata until it reports the tenant gone."
                ).format(error=exc.message),
            )
        )
        if self.recording:
            self._writing.note("watching without sign-in", reason=exc.message)
        self._probe_discovery(force=True)

    def _probe_discovery(self, *, force: bool = False) -> None:
        # Gently: at most one unauthenticated request per poll interval.
        now = time.monotonic()
        if not force and now - self._probe_at < 0.9 * self.options.poll_interval:
            return
        self._probe_at = now
        if directory.tenant_gone(self.authority_base, self.caller.tenant.id) is True:
            self.gone = True
            self.emit(
                Noted(
                    "info",
                    _(
                        "The tenant no longer exists: its public sign-in metadata answers "
                        "AADSTS90002 (tenant not found)."
                    ),
                )
            )

    # -- the plan ------------------------------------------------------------------------------

    @property
    def plan_path(self) -> Path:
        return self.dir / "plan.json"

    def load_plan(self) -> Plan | None:
        try:
            plan = Plan.from_json(self.plan_path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise CloseoutError(
                _("The saved plan {path} is unreadable: {error}").format(
                    path=self.plan_path, error=exc
                ),
                _("Make a new one with: closeout plan"),
            ) from None
        if plan.tenant.id != self.caller.tenant.id:
            return None
        # The file may have been edited by hand: hold it to the rules a new plan follows.
        check_plan(plan, self.caller, self.inventory)
        self.plan = plan
        self._adopt_marks(plan)
        settle_after_load(len(plan.actions))
        return plan

    def _adopt_marks(self, plan: Plan | None) -> None:
        """The accounts a saved plan keeps because the admin marked them stay marked in every
        plan this engine makes (taken once, from the first plan it sees)."""
        if self._marks_adopted:
            return
        self._marks_adopted = True
        have = set(self.options.keep_entries)
        self.options.keep_entries += tuple(m for m in marks_of(plan) if m not in have)

    def _saved_plan_quietly(self) -> Plan | None:
        """The saved plan of this tenant as written, or None (missing, unreadable, another
        tenant's): only to carry its marks over."""
        try:
            plan = Plan.from_json(self.plan_path.read_bytes())
        except (OSError, ValueError, CloseoutError):
            return None
        return plan if plan.tenant.id == self.caller.tenant.id else None

    def make_plan(self, *, save: bool | None = None) -> Plan:
        """A fresh plan from a fresh inventory (read-only towards Graph).

        Saved (with the inventory backup, if there is none yet) when ``save``, by default when
        :attr:`recording`: the saved plan is the one a run applies, so only a real run and
        ``closeout plan``, which prints all of it, may save one; a plan a read-only session
        showed in passing must not become it.
        """
        inv = self.inventory or self.refresh()
        if inv is None:
            raise CloseoutError(_("The tenant no longer exists; there is nothing to plan."))
        self._adopt_marks(self.plan or self._saved_plan_quietly())
        plan = build_plan(
            inv,
            self.caller,
            PlanOptions(
                keep_upns=self.options.keep_upns,
                keep_entries=self.options.keep_entries,
                disable_security_defaults=self.options.disable_security_defaults,
                disable_ca_mfa=self.options.disable_ca_mfa,
                own_app_ids=self.options.own_app_ids,
                delete_own_app=self.options.delete_own_app,
            ),
        )
        self.plan = plan
        settle_after_load(len(plan.actions))
        if self.recording if save is None else save:
            tenant_dir(self.caller.tenant.id, root=self.state_root)
            write_private_chunks(self.plan_path, plan.json_chunks())
            # The backup is written once; a link in its place is refused, not taken as it.
            before = refuse_symlink(self.dir / "inventory-before.json")
            if not before.exists():
                write_private_chunks(before, inv.json_chunks())
            if self.recording:
                self._writing.note("plan made", digest=plan.digest(), actions=len(plan.actions))
        return plan

    def ensure_plan(self) -> Plan:
        """The saved plan, re-checked against the current options; else a new one.

        A plan records what step 4 does to security defaults and Conditional Access; when
        ``--disable-security-defaults``/``--disable-ca-mfa`` now say otherwise, the plan is
        made again so that what is applied is what the plan shows.
        """
        plan = self.plan or self.load_plan()
        if (
            plan is not None
            and self._keeps_what_is_named(plan)
            and self._policy_choices_match(plan)
            and self._own_app_choice_matches(plan)
        ):
            return plan
        return self.make_plan()

    def _keeps_what_is_named(self, plan: Plan) -> bool:
        """The saved plan keeps every account the options name (by UPN or id), and keeps the
        MFA of those named to keep it."""
        kept = {k.id.casefold(): k for k in plan.keep} | {k.upn.casefold(): k for k in plan.keep}
        # Marks need no check: they come from a plan, or set_kept made one with them.
        named = [e for e in self.options.keep_entries if e.source != MARKED]
        for entry in entries_for(self.options.keep_upns, named):
            k = kept.get(entry.value.casefold())
            if k is None or (entry.keep_mfa and not k.keep_mfa):
                return False
        return True

    def _own_app_choice_matches(self, plan: Plan) -> bool:
        """The saved plan treats closeout's own app as ``--delete-own-app`` now says."""
        if self.inventory is None:
            return True
        own = self.context_for(plan).own_app()
        planned = {
            a.object_id: a.action
            for a in plan.for_step(StepId.DELETE_DIRECTORY)
            if a.action in ("delete-own-app", "hand-off-own-app")
        }
        wanted = "delete-own-app" if self.options.delete_own_app else "hand-off-own-app"
        return plan.own_app.get("appIds") == sorted(own.app_ids) and planned == {
            o.id: wanted for o in own.blocking
        }

    def _policy_choices_match(self, plan: Plan) -> bool:
        actions = {a.action for a in plan.for_step(StepId.DISABLE_MFA)}
        for turn_off, report, wanted in (
            (
                "disable-security-defaults",
                "report-security-defaults",
                self.options.disable_security_defaults,
            ),
            ("disable-ca-policy", "report-ca-policy", self.options.disable_ca_mfa),
        ):
            if (wanted and report in actions) or (not wanted and turn_off in actions):
                return False
        return True

    # -- assessing -----------------------------------------------------------------------------

    def context(self, control: RunControl | None = None) -> StepContext:
        if self.plan is None or self.inventory is None:
            raise CloseoutError(_("Read the tenant and make a plan first."))
        return self.context_for(self.plan, control)

    def context_for(self, plan: Plan, control: RunControl | None = None) -> StepContext:
        assert self.inventory is not None
        return StepContext(
            client=self.client,
            caller=self.caller,
            plan=plan,
            inventory=self.inventory,
            options=self.options,
            control=control or self.control,
            journal=self.journal,
            sink=self.emit,
            pacer=self.pacer,
            fresh_inventory=self.fresh_inventory,
            run_id=self.run_id,
            all_service_principals_removed=self._last_resort_ran(),
        )

    def ticks(self) -> set[str]:
        """The manual checks ticked: as journalled, then as changed in this session if it
        does not record (read-only: what the admin ticks shows here and is kept nowhere)."""
        ticked = self.journal.manual_ticks() if self.journal is not None else set()
        for key, done in self._unrecorded_ticks.items():
            if done:
                ticked.add(key)
            else:
                ticked.discard(key)
        return ticked

    def tick(self, key: str) -> None:
        """Record the admin's own confirmation of a check no API can make."""
        self._set_tick(key, True)

    def untick(self, key: str) -> None:
        self._set_tick(key, False)

    def _set_tick(self, key: str, done: bool) -> None:
        self._check_manual_key(key)
        if (key in self.ticks()) == done:
            return
        if self.recording:
            self._writing.tick(key, self.caller.tenant.signed_in_upn, done=done)
        else:
            self._unrecorded_ticks[key] = done

    def _check_manual_key(self, key: str) -> None:
        checks = registry.manual_checks()
        if key not in checks:
            raise CloseoutError(
                _("Unknown manual check {key!r}; choose from: {keys}").format(
                    key=key, keys=", ".join(checks)
                )
            )

    @property
    def exported(self) -> bool:
        """Whether the inventory backup the article asks for is written."""
        return (self.dir / "inventory-before.json").exists()

    def assess(self, *, refresh: bool = True, reuse: float = 0.0) -> dict[StepId, StepState]:
        """Every step's state from a fresh read (``refresh``) or the last inventory.

        ``reuse``: a read younger than this with no write since (:meth:`fresh_inventory`)
        counts as fresh: for an assessment right after one, with no wait between them.
        """
        if refresh and reuse > 0 and self.fresh_inventory(reuse) is not None:
            refresh = False
        inv = self.refresh() if refresh or self.inventory is None else self.inventory
        if self.gone:
            for step in registry.STEPS:
                self._set_state(StepState(step.id, StepStatus.DONE, _("The tenant is deleted.")))
            return dict(self.states)
        if self.signed_out and self.plan is not None and self.inventory is not None:
            self._set_state(directory.watching_without_sign_in(self.context()))
            return dict(self.states)
        if inv is None:
            return dict(self.states)
        context = self.context() if self.plan is not None else None
        # One round, in the registry's order: each step sees the states of those before it.
        for step in registry.STEPS:
            if context is None and not step.plans:
                break  # until there is a plan, only the step that makes it can say anything
            result = step.assess(Assessing(inv, context, self.states, self))
            # Before the state: a UI asks on seeing it.
            self.due[step.id] = result.due
            self._portal_stage[step.id] = result.portal_stage
            self._set_state(result.state)
            if result.handoff is not None:
                self._publish_handoff(result.handoff)
        return dict(self.states)

    def confirmation(self, step: StepId, state: StepState | None = None) -> Confirmation | None:
        """What ``step`` asks before it acts, as of the last assessment (``state``: the caller's
        own, fresher count); None if it asks nothing."""
        confirm = registry.step(step).confirm
        if confirm is None:
            return None
        return confirm(
            Asking(
                self.plan,
                state or self.states[step],
                self.inventory,
                self.due.get(step, frozenset()),
            )
        )

    def _publish_handoff(self, handoff: Handoff) -> None:
        if self.handoffs.get(handoff.step) != handoff:
            self.handoffs[handoff.step] = handoff
            self.emit(HandoffUpdated(handoff))

    # -- acting --------------------------------------------------------------------------------

    def check_domain(self, typed: str | None, what: str = "delete-directory") -> None:
        expected = self.caller.tenant.initial_domain
        if (typed or "").strip() != expected:
            if self.recording:
                self._writing.confirm(what, 0, matched=False, expected=expected)
            raise ConfirmationMismatch(
                _(
                    "The domain given does not match the initial domain {domain}; nothing was "
                    "changed."
                ).format(domain=expected),
                _("Give the initial domain exactly as shown, *.onmicrosoft.com included."),
            )

    def run_step(
        self, step: StepId, *, confirm_domain: str | None = None, control: RunControl | None = None
    ) -> StepState:
        """Do what ``step`` can do now through the API, then re-assess it from Graph.

        ``control``: the step's own (a child of :attr:`control`, so that a session stop reaches
        it); the step's reads wait on it too, so stopping the step interrupts them."""
        with self.client.waits_on(control or self.control):
            return self._run_step(step, confirm_domain=confirm_domain, control=control)

    def _run_step(
        self, step: StepId, *, confirm_domain: str | None, control: RunControl | None
    ) -> StepState:
        spec = registry.step(step)
        if self.plan is None:
            self.ensure_plan()
        if spec.typed_domain:
            self.check_domain(confirm_domain)  # before anything is sent
        ctx = self.context(control)
        self._policies_at = -POLICY_REUSE  # what this step changes must be read afresh after
        before = self.states[step]
        self._set_state(
            StepState(
                step, StepStatus.RUNNING, before.summary, before.done, before.total, before.failed
            )
        )
        try:
            if spec.typed_domain and self.recording:
                self._writing.confirm(
                    "delete-directory",
                    len(ctx.plan.for_step(step)),
                    matched=True,
                    expected=self.caller.tenant.initial_domain,
                )
            ran = spec.run(ctx, self) if spec.run is not None else Ran()
            self._after_run(ran)
            self.assess(refresh=not ran.fresh)
        except CloseoutError:
            self._set_state(before)
            raise
        if ran.state is not None and ran.state.status == StepStatus.FAILED:
            return self._keep(ran.state)  # the step's own count of what failed stands
        return self._outcome(step, ran.failures)

    def _after_run(self, ran: Ran) -> None:
        if ran.state is not None:
            self._set_state(ran.state)
        if ran.sign_in_ends:
            self._own_app_deleted = True
        if ran.handoff is not None:
            self._publish_handoff(ran.handoff)

    def _outcome(self, step: StepId, failures: tuple[str, ...]) -> StepState:
        """The step as Graph now shows it, or failed with what failed if it is not done."""
        after = self.states[step]
        if failures and after.status != StepStatus.DONE:
            return self._keep(
                StepState(
                    step,
                    StepStatus.FAILED,
                    ngettext("{n} action failed.", "{n} actions failed.", len(failures)).format(
                        n=len(failures)
                    ),
                    after.done,
                    after.total,
                    len(failures),
                    blockers=failures + after.blockers,
                )
            )
        return after

    def _keep(self, state: StepState) -> StepState:
        self._set_state(state)
        return state

    # -- the last resort: every service principal ------------------------------------------------

    def _last_resort_ran(self) -> bool:
        if self._last_resort is None:
            self._last_resort = self.journal is not None and self.journal.confirmed(
                last_resort.CONFIRM_WHAT
            )
        return self._last_resort

    @property
    def _final_stage(self) -> bool:
        """A step's last assessment handed its whole remainder to a person in a portal."""
        return any(self._portal_stage.values())

    def last_resort_available(self) -> bool:
        """Only at the portal stage, while closeout can still sign in: the portal can have
        refused "Delete tenant" only once closeout handed it over."""
        return (
            self._final_stage
            and not self.signed_out
            and not self.gone
            and not self.options.read_only
            and self.inventory is not None
        )

    def last_resort_consequences(self) -> list[str]:
        inv = self.inventory
        return last_resort.consequences(self.context(), inv) if inv is not None else []

    def remove_all_service_principals(
        self, confirm_domain: str | None, *, control: RunControl | None = None
    ) -> StepState:
        """DELTEN's "Remove enterprise apps that you can't delete", after the portal refused."""
        with self.client.waits_on(control or self.control):
            return self._remove_all_service_principals(confirm_domain, control=control)

    def _remove_all_service_principals(
        self, confirm_domain: str | None, *, control: RunControl | None
    ) -> StepState:
        if not self.last_resort_available():
            raise CloseoutError(
                _(
                    "Removing every service principal is offered only after closeout handed "
                    "Delete tenant over and the portal refused it; nothing was changed."
                ),
                _("Follow step 5's handoff first; if the portal refuses, come back to this."),
            )
        self.check_domain(confirm_domain, last_resort.CONFIRM_WHAT)
        inv = self.refresh()
        if inv is None:
            return self.states[StepId.DELETE_DIRECTORY]
        ctx = self.context(control)
        rest, graph, _own = last_resort.targets(ctx, inv)
        if self.recording:
            self._writing.confirm(
                last_resort.CONFIRM_WHAT,
                len(rest) + len(graph),
                matched=True,
                expected=self.caller.tenant.initial_domain,
            )
        self._last_resort = True
        ran = delete_directory.after_cleanup(ctx, self, last_resort.run(ctx, inv))
        self._after_run(ran)
        self.assess(refresh=True)
        return self._outcome(StepId.DELETE_DIRECTORY, ran.failures)

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
        )


def _is_refusal(exc: CloseoutError) -> bool:
    """Graph refused the token (401), or a new one could not be had (the app is gone)."""
    if isinstance(exc, GraphError):
        return exc.status == 401
    return isinstance(exc, AuthError)


def export_offline(tenant_id: str, *, root: Path | None = None, out: Path | None = None) -> Path:
    """The evidence pack from what closeout kept locally, without Graph.

    After the tenant is deleted no token works any more, yet that is when the organization
    needs the evidence: the saved plan names the tenant, the journal holds every outcome and
    ``inventory-before.json`` the backup.
    """
    from .journal.records import new_run_id
    from .journal.writer import Journal
    from .models import TenantInfo
    from .saved_tenants import PLAN_NAME, UnreadablePlan, saved_plan_tenant

    # Reads only: a tenant closeout never reached gets no folder, and a plan copied from
    # another tenant's folder is refused rather than exported under this tenant's name.
    folder = saved_plan_tenant(tenant_id, root=root).folder
    try:
        tenant = TenantInfo(**read_member(folder / PLAN_NAME, "tenant"))
        keep = read_member(folder / PLAN_NAME, "keep") or []
    except (OSError, ValueError, KeyError, TypeError):
        raise UnreadablePlan(folder / PLAN_NAME) from None
    before_path = folder / "inventory-before.json"
    inventory: Any = before_path
    try:
        subscriptions = read_member(before_path, "subscriptions")
    except (OSError, ValueError):
        inventory, subscriptions = {}, None
    journal = Journal(tenant.id, root=root)
    runs: set[str] = set()
    step_5_done = False

    def scan() -> Iterator[tuple[int, dict[str, Any]]]:
        nonlocal step_5_done
        for offset, rec in journal.iter_positioned():
            kind = rec.get("kind")
            if kind == "run-start":
                runs.add(str(rec.get("run")))
            elif kind == "step" and rec.get("step") == int(StepId.DELETE_DIRECTORY):
                step_5_done = step_5_done or rec.get("status") == str(StepStatus.DONE)
            yield offset, rec

    outcomes = LatestOutcomes(journal, scan())
    detected = journal.tenant_gone_record()
    run_id = new_run_id()
    summary = {
        "offline": True,
        "tenantDeleted": step_5_done or detected is not None,
        "tenantDeletion": detected,
        "journal": journal.health.to_json(),
        "keep": [k.get("upn") for k in keep if isinstance(k, dict)],
        "runs": sorted(runs),
        "subscriptions": subscriptions_summary({"subscriptions": subscriptions}, None),
    }
    damaged = journal.health.warning(journal.path)
    target = out or default_pack_dir(tenant.id, run_id, root=root)
    return write_pack(
        target,
        tenant=tenant,
        inventory=inventory,
        outcomes=outcomes.rows(),
        summary=summary,
        run_id=run_id,
        replace=out is not None,
        warnings=[damaged] if damaged else [],
    )
