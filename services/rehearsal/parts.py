"""The parts of a rehearsal report: a step's numbers, a handoff as the admin's stand-in
played it, a finding (blocker or warning) and the timeline to the earliest deletion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

BLOCKER = "blocker"
WARNING = "warning"


@dataclass
class StepReport:
    step: int
    name: str
    status: str
    summary: str
    planned: list[tuple[str, int]] = field(default_factory=list)
    """(what, how many) as the plan says."""
    outcomes: list[tuple[str, str, int]] = field(default_factory=list)
    """(what, outcome, how many) as the rehearsal did it."""
    requests: int = 0
    reads: int = 0
    batches: int = 0
    writes: int = 0
    ca_writes: int = 0
    floor_seconds: float = 0.0
    predicted_seconds: float = 0.0
    waits: list[str] = field(default_factory=list)


@dataclass
class HandoffReport:
    step: int
    title: str
    link: str
    click_path: list[str]
    items: list[str]
    notes: list[str]
    played: list[str]


@dataclass
class Finding:
    kind: str
    """``blocker`` (stops the close-out until someone acts) or ``warning``."""
    step: int | None
    text: str


@dataclass
class Timeline:
    working_seconds: float
    earliest_seconds: float
    latest_seconds: float
    start: datetime
    assumptions: list[str]
    reason: str = ""
    """What sets the earliest deletion."""

    @property
    def earliest_at(self) -> datetime:
        return self.start + timedelta(seconds=self.earliest_seconds)

    @property
    def latest_at(self) -> datetime:
        return self.start + timedelta(seconds=self.latest_seconds)
