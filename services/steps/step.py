"""What a step is: the one record each step module exports, and what the engine hands it.

A :class:`Step` says everything the rest of closeout needs to know about one step of the
article's procedure: its id (the number journals and JSON use), its names, what it waits for,
how it is assessed from a fresh read, whether and how an API runs it (or whether it is a handoff
that closeout only watches), what to ask before it acts, whether that needs the typed initial
domain, and what roles and permissions it requires. :mod:`services.steps.registry` lists them
in order; the engine, the headless runner, the app's gating, the checklist and the help read it.

The engine implements :class:`Host`; steps see it only through that protocol, so nothing here
imports :mod:`services.engine` (the dependency points engine → steps).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from services.errors import CloseoutError
from services.i18n import _
from services.inventory.model import Inventory
from services.models import Handoff, StepId, StepState, StepStatus, SubscriptionPhase
from services.plan.model import Plan
from services.requirements import Missing, StepNeeds

from .base import StepContext


class Host(Protocol):
    """What a step may ask of the engine that drives it (implemented by ``Engine``)."""

    @property
    def recording(self) -> bool: ...

    @property
    def inventory(self) -> Inventory | None:
        """The latest inventory read."""
        ...

    @property
    def exported(self) -> bool:
        """Whether the inventory backup (``inventory-before.json``) is written."""
        ...

    def missing(self) -> list[Missing]: ...

    def hints(self) -> list[Missing]:
        """Permissions a readable token's claims say are missing (a warning only)."""
        ...

    def ticks(self) -> set[str]: ...

    def refresh(self) -> Inventory | None: ...

    def make_plan(self, *, save: bool | None = None) -> Plan: ...


@dataclass(frozen=True)
class Assessing:
    """What one assessment round gives every step: the fresh inventory, the plan's context
    (None until there is a plan: only the planning step is assessed then), the states the steps
    before it reached in this round, and the engine."""

    inventory: Inventory
    context: StepContext | None
    states: Mapping[StepId, StepState]
    host: Host

    @property
    def ctx(self) -> StepContext:
        if self.context is None:
            raise CloseoutError(_("Read the tenant and make a plan first."))
        return self.context

    def done(self, steps: tuple[StepId, ...]) -> bool:
        """Whether every one of ``steps`` is done in this round."""
        return all(self.states.get(s, StepState(s)).status == StepStatus.DONE for s in steps)


@dataclass(frozen=True)
class Assessment:
    """A step's state from a fresh read and, for a step that waits on a person, the handoff."""

    state: StepState
    handoff: Handoff | None = None
    due: frozenset[str] = frozenset()
    """Actions outside the plan that running the step now sends first (journal action names,
    such as ``disable-directory-sync``): its confirmation names them."""
    portal_stage: bool = False
    """Only a person's part in a portal is left (step 5's "Delete tenant"): from here the admin
    may delete closeout's own app or the tenant, so a refused token is expected."""


@dataclass(frozen=True)
class Ran:
    """What a step's ``run`` did. The engine re-assesses the step from Graph afterwards."""

    failures: tuple[str, ...] = ()
    """One line per action that failed."""
    state: StepState | None = None
    """The step's own verdict from the re-reads it made (kept if it says failed)."""
    fresh: bool = False
    """The run ended with a fresh read of the whole tenant: assess from it, no second read."""
    handoff: Handoff | None = None
    """A handoff the run leaves behind (published before the step is assessed again)."""
    sign_in_ends: bool = False
    """The run deleted closeout's own app: from now on a refused token is expected."""


@dataclass(frozen=True)
class Asking:
    """What a step's confirmation is worded from: the plan, the step's state (the app's copy
    may count further than the last read), the inventory and what the step's last assessment
    said is due."""

    plan: Plan | None
    state: StepState
    inventory: Inventory | None
    due: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Confirmation:
    """What to ask before a step acts: the count and the consequence.

    ``question`` is the one line the headless run prints ("Delete 4,812 users? They can be
    restored for 30 days."); the TUI shows ``title`` and ``body`` in its dialog.
    """

    question: str
    title: str
    body: tuple[str, ...]
    confirm_label: str


Assess = Callable[[Assessing], Assessment]
Run = Callable[[StepContext, Host], Ran]
Confirm = Callable[[Asking], Confirmation]


@dataclass(frozen=True)
class Step:
    """One step of the procedure, as everything else in closeout sees it."""

    id: StepId
    name: str
    """The article's name (marked with ``N_``; shown through ``services.names.step_name``)."""
    short_name: str
    """At most 11 cells, for the narrow checklist (``N_``)."""
    help: str
    """What the step does, for the help screen (``N_``)."""
    assess: Assess
    requires: StepNeeds
    """The directory roles it needs and the Graph calls it makes, by their endpoint rows (each
    step module writes its own ``NEEDS``; :mod:`services.requirements` checks them)."""
    depends_on: tuple[StepId, ...] = ()
    """The steps that must be done before this one can move."""
    run: Run | None = None
    """How an API does it; None for a handoff that closeout only watches."""
    run_label: str = ""
    """What running it does, in a few words for the help screen (``N_``)."""
    confirm: Confirm | None = None
    """What to ask before it runs; None when running it changes nothing in the tenant."""
    typed_domain: bool = False
    """Irreversible: it runs only after the initial domain is typed."""
    plans: bool = False
    """Running it reads the tenant and makes the plan that every other step applies: the
    other steps wait for it, and a headless run never re-plans on its own."""
    manual_checks: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Checks no API can make, which the admin ticks: key → (what, where) (``N_``)."""
    counts: frozenset[str] = frozenset()
    """The journal actions each of whose successes is one more of the step's objects done
    ("Users 12/299"), so that a running step's count moves on with them. Other writes (turning
    directory sync off, step 5's clean-up, which counts checks) leave the count to the next
    read."""
    subscriptions: tuple[SubscriptionPhase, ...] = ()
    """The phases of the subscriptions this step still has to see go, which its status lists
    (steps 2 and 3, handoffs that closeout watches)."""
    reads: tuple[str, ...] = ()
    """The inventory parts its verdict rests on (:data:`services.inventory.take.PARTS`' names,
    as ``Inventory.errors`` keys them): while one could not be read, an empty list is no
    evidence, and the step is never called done (:func:`unread_verdict`)."""

    @property
    def by_api(self) -> bool:
        """Whether closeout can do it through an API (else: handoff and watch)."""
        return self.run is not None


def unread_verdict(step: Step, state: StepState, errors: Mapping[str, str]) -> StepState:
    """``state``, unless it says done while a part the step rests on could not be read: then
    blocked, naming the part and Graph's answer (nothing read is not nothing there)."""
    unread = [part for part in step.reads if part in errors]
    if state.status != StepStatus.DONE or not unread:
        return state
    reasons = tuple(
        _(
            "closeout could not read {part} ({reason}), so it cannot tell whether this step is done."
        ).format(part=part, reason=errors[part])
        for part in unread
    )
    return replace(
        state,
        status=StepStatus.BLOCKED,
        summary=_("Unknown: part of the tenant could not be read."),
        blockers=(*reasons, *state.blockers),
    )
