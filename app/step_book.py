"""The one model the main screen shows: each step's state, the handoffs, and the running step's
counts and pace, as one object that the checklist, the progress bar and the "Remaining" line
all read from, so that at every moment of a run they show the same numbers.

The engine reports a step's state (from a Graph read) as messages; while a step runs, its
counts move on with the outcomes the run reports (:class:`LiveCounts`, kept by the bridge in
the order the engine reported them and taken in the same flush as the tables' row marks), and
its pace (ETA, writes in the quota window) with its progress reports. Kept by the app on the UI
thread and read by the screens through the controller; no Textual here, so it is tested as
plain data.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from services.models import Handoff, ProgressUpdated, StepId, StepState, StepStatus
from services.steps import load_registry

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


class LiveCounts:
    """A running step's count as the run reports outcomes: its count when it began (from the
    state that said it runs) plus each counted success and failure since. Not thread-safe: the
    bridge keeps it under its lock."""

    __slots__ = ("counts", "failed", "ok", "state")

    def __init__(self, state: StepState) -> None:
        self.state = state
        self.counts: frozenset[str] = load_registry().step(state.step).counts
        """The actions whose outcomes move this count (the step's registry entry says)."""
        self.ok = 0
        self.failed = 0

    def add(self, outcome: str) -> None:
        if outcome in ("done", "gone"):
            self.ok += 1
        elif outcome == "failed":
            self.failed += 1

    def current(self) -> StepState:
        st = self.state
        # Never past the total the read counted (objects that appeared since are a re-plan's).
        return replace(st, done=min(st.done + self.ok, st.total), failed=st.failed + self.failed)


class StepBook:
    def __init__(self) -> None:
        # Filled as the engine reports, and completed from the step registry on connecting
        # (:meth:`fill`): the registry loads the step code and the Graph client, which the
        # sign-in worker imports; the UI thread must not before the first paint.
        self.states: dict[StepId, StepState] = {}
        self.handoffs: dict[StepId, Handoff] = {}
        self.progress: dict[StepId, ProgressUpdated] = {}
        """The latest progress report of each running step (cleared when a run begins or ends)."""

    def fill(self, steps: Iterable[StepId]) -> None:
        """Every step gets a state, pending until reported."""
        for step in steps:
            self.states.setdefault(step, StepState(step))

    def report(self, state: StepState) -> None:
        """A step's state from the engine (a read, or the run beginning or ending)."""
        before = self.states.get(state.step)
        running = StepStatus.RUNNING
        if before is not None and before.status == running and state.status == running:
            # The run's own news, taken from the bridge before this message was handled, is
            # newer than the state it began with: counts never go back within a run.
            state = replace(
                state, done=max(state.done, before.done), failed=max(state.failed, before.failed)
            )
        else:
            # A run begins or ends: the pace shown is this run's, never the last one's.
            self.progress.pop(state.step, None)
        self.states[state.step] = state

    def take(
        self, live: Mapping[StepId, StepState], progress: Mapping[StepId, ProgressUpdated]
    ) -> bool:
        """A flush from the bridge: running steps' counts and pace; whether a count moved."""
        moved = False
        for step, state in live.items():
            if self.states.get(step) != state:
                self.states[step] = state
                moved = True
        for step, report in progress.items():
            if self.states.get(step, StepState(step)).status == StepStatus.RUNNING:
                self.progress[step] = report
        return moved

    def run_view(self, step: StepId) -> ProgressUpdated:
        """What the progress bar shows for the running step: its own counts when its objects
        are what the run writes, else the count of the writes this run sends (step 5 counts
        checks, not objects); the pace of this run's last report (none yet: no ETA, quota 0)."""
        state = self.states.get(step) or StepState(step)
        p = self.progress.get(step)
        eta = p.eta_seconds if p else None
        writes, quota = (p.writes_in_window, p.write_quota) if p else (0, 0)
        if load_registry().step(step).counts or p is None:
            done, total, failed = state.done, state.total, state.failed
        else:
            done, total, failed = p.done, p.total, p.failed
        return ProgressUpdated(step, done, total, failed, eta, writes, quota)
