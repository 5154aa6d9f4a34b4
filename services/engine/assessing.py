"""Assessing for the engine: every step's state from a fresh read in the registry's order,
the manual checks the admin ticks, and what a step asks before it acts.
"""

from __future__ import annotations

from services.errors import CloseoutError
from services.i18n import _
from services.models import Handoff, HandoffUpdated, StepId, StepState, StepStatus
from services.steps import directory, registry
from services.steps.step import Asking, Assessing, Confirmation, unread_verdict

from .records import Recording


class Assessment(Recording):
    """The engine's assessment of every step (a layer of :class:`~services.engine.Engine`)."""

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
            self._set_state(unread_verdict(step, result.state, inv.errors))
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
