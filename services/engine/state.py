"""What the engine holds (client, caller, options, plan, inventory, step states, handoffs)
and how it tells the world: events to the sink, step changes to the journal while it
records; whether its last read is still current, and the context each step runs in. The base
of :class:`services.engine.Engine`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from services.caller import Caller
from services.control import RunControl
from services.errors import CloseoutError
from services.graph.client import GraphClient
from services.i18n import _
from services.inventory.model import Inventory
from services.journal.writer import Journal
from services.models import Event, Handoff, StepChanged, StepId, StepState
from services.pacing import WritePacer
from services.paths import tenant_path
from services.plan.model import Plan
from services.steps import last_resort, registry
from services.steps.base import EngineOptions, StepContext

log = logging.getLogger("closeout.engine")

POLICY_REUSE = 5.0  # seconds
FRESH = 30.0
"""Seconds a read stays current for the next one within the same pass, if nothing was written
since it began: a run reads the tenant once before a step, not again for the step itself, and
once after it, not again for the next assessment. Any wait, and any write, makes it stale."""


class EngineState:
    """The engine's state and events: the base every layer of :class:`Engine` builds on."""

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

    # -- the last read ----------------------------------------------------------------------------

    def fresh_inventory(self, within: float = FRESH) -> Inventory | None:
        """The last inventory if it was read less than ``within`` seconds ago and nothing was
        written since its read began; else None (read again)."""
        with self._lock:
            writes, done = self._read
            if self.inventory is None or writes != self.client.writes_sent:
                return None
            return self.inventory if time.monotonic() - done <= within else None

    # -- the steps' context ----------------------------------------------------------------------

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
