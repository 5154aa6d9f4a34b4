"""The steps as the UI knows them between two Graph reads: each step's state as the engine last
reported it, the handoffs, and the running step's counts moved on by its progress (so that the
checklist counts move with the run, not only when Graph is read again after it).

Kept by the app on the UI thread and read by the screens through the controller; no Textual
here, so it is tested as plain data.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from services.models import Handoff, StepId, StepState, StepStatus

if TYPE_CHECKING:
    from collections.abc import Iterable

    from services.models import ProgressUpdated


class StepBook:
    def __init__(self) -> None:
        # Filled as the engine reports, and completed from the step registry on connecting
        # (:meth:`fill`): the registry loads the step code and the Graph client, which the
        # sign-in worker imports; the UI thread must not before the first paint.
        self.states: dict[StepId, StepState] = {}
        self.handoffs: dict[StepId, Handoff] = {}
        # The running step's count when it began: its progress counts from there.
        self._base: dict[StepId, int] = {}

    def fill(self, steps: Iterable[StepId]) -> None:
        """Every step gets a state, pending until reported."""
        for step in steps:
            self.states.setdefault(step, StepState(step))

    def report(self, state: StepState) -> None:
        self.states[state.step] = state
        if state.status == StepStatus.RUNNING:
            self._base[state.step] = state.done
        else:
            self._base.pop(state.step, None)

    def advance(self, progress: ProgressUpdated) -> bool:
        """Move the running step's counts on by ``progress``; whether they moved."""
        state = self.states.get(progress.step)
        base = self._base.get(progress.step)
        if state is None or base is None or state.status != StepStatus.RUNNING:
            return False
        if base + progress.total > state.total:
            return False  # a progress of a larger run than the read counted: wait for a read
        self.states[progress.step] = replace(
            state, done=base + progress.done, failed=progress.failed
        )
        return True
