"""What a rehearsal saw: per step the requests, the writes and their outcomes, every handoff,
every note and every line the headless driver printed about waiting or failing.

:class:`Observer` is the engine's event sink (it passes every event on to the progress
reporter) and the Graph client's call hook: a call belongs to the step that is running when it
is made, so reads while closeout only waits and watches count for no step.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from services.graph.responses import CallRecord
from services.headless.report import Reporter
from services.models import (
    Event,
    Handoff,
    HandoffUpdated,
    ItemFinished,
    Noted,
    StepChanged,
    StepId,
    StepState,
    StepStatus,
)

__all__ = ["DriverLines", "Observer", "StepCounts"]

CA_WRITE = "disable-ca-policy"


@dataclass
class StepCounts:
    reads: int = 0
    batches: int = 0
    """``$batch`` POSTs (the writes travel in them)."""
    other_writes: int = 0
    """Single write requests outside a batch."""
    throttled: int = 0
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(action, outcome) → items."""
    failures: list[ItemFinished] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return self.reads + self.batches + self.other_writes

    @property
    def writes(self) -> int:
        """Write items that reached Graph, Conditional Access ones excepted."""
        return sum(
            n
            for (action, outcome), n in self.outcomes.items()
            if outcome != "skipped" and action != CA_WRITE
        )

    @property
    def ca_writes(self) -> int:
        return sum(
            n
            for (action, outcome), n in self.outcomes.items()
            if outcome != "skipped" and action == CA_WRITE
        )


class Observer:
    """The engine's sink and the client's call hook for one rehearsal. Thread-safe."""

    def __init__(self, forward: Callable[[Event], None] | None = None) -> None:
        self._forward = forward
        self._lock = threading.Lock()
        self.running: StepId | None = None
        self.steps: dict[StepId, StepCounts] = {s: StepCounts() for s in StepId}
        self.states: dict[StepId, StepState] = {}
        self.handoffs: dict[StepId, Handoff] = {}
        """The first version of each step's handoff: what the admin is handed first."""
        self.notes: list[Noted] = []
        self.listeners: list[Callable[[Event], None]] = []
        self.requests = 0

    def sink(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, StepChanged):
                st = event.state
                self.states[st.step] = st
                if st.status == StepStatus.RUNNING:
                    self.running = st.step
                elif self.running == st.step:
                    self.running = None
            elif isinstance(event, ItemFinished):
                counts = self.steps[event.step]
                counts.outcomes[(event.action, event.outcome)] += 1
                if event.outcome == "failed":
                    counts.failures.append(event)
            elif isinstance(event, HandoffUpdated):
                self.handoffs.setdefault(event.handoff.step, event.handoff)
            elif isinstance(event, Noted):
                self.notes.append(event)
            listeners = list(self.listeners)
        for listener in listeners:
            listener(event)
        if self._forward is not None:
            self._forward(event)

    @contextlib.contextmanager
    def attributing(self, step: StepId) -> Iterator[None]:
        """Count the calls made inside the block for ``step`` (step 0's first reading)."""
        with self._lock:
            self.running = step
        try:
            yield
        finally:
            with self._lock:
                if self.running == step:
                    self.running = None

    def on_call(self, record: CallRecord) -> None:
        with self._lock:
            self.requests += 1
            if self.running is None:
                return
            counts = self.steps[self.running]
            if record.status == 429:
                counts.throttled += 1
            if record.method == "GET":
                counts.reads += 1
            elif record.batch_size is not None or record.path.startswith("/$batch"):
                counts.batches += 1
            else:
                counts.other_writes += 1


class DriverLines(Reporter):
    """The headless driver's reporter, keeping what it says about waiting, failing, stopping
    and missing permissions for the rehearsal report."""

    KEPT = frozenset({"waiting", "failed", "stopped", "missing", "error"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kept: list[dict[str, Any]] = []

    def emit(self, obj: dict[str, Any], text: str | None) -> None:
        if obj.get("event") in self.KEPT:
            self.kept.append(dict(obj))
        super().emit(obj, text)
