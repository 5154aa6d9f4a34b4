"""What the reliability suite runs and finds: its defaults, the fault profiles, the kill
phases, a trial's findings (:class:`Trial`) and the sandbox a trial closes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from services.sandbox import Sandbox, SandboxConfig, start_sandbox
from tests.support.cli_harness import FAST

DEFAULT_SEED = 20261202
DEFAULT_USERS = 120
DEFAULT_KILL_USERS = 60
"""A kill lands among a phase's writes wherever they are; a smaller tenant has fewer to wait for."""
HOSTILE_USERS = 40
DEFAULT_JOBS = 4
"""Trials run side by side: each spends most of its time waiting on the sandbox's clock."""
DEFAULT_KILLS = 20
DEFAULT_PER_FAULT = 3
_OK = ("done", "gone")


@dataclass(frozen=True)
class Profile:
    """One kind of fault a whole close-out runs under."""

    name: str
    faults: str
    """The sandbox's random fault spec (``SandboxConfig.faults``)."""
    what: str
    sign_in: bool = False
    """Sign in through the device code flow (msal, refreshable) instead of a given token."""
    config: dict[str, Any] = field(default_factory=dict)


PROFILES: tuple[Profile, ...] = (
    Profile("5xx", "5xx=0.05", "5 % of requests and $batch items answer 503/502/504"),
    Profile(
        "late-5xx",
        "late5xx=0.05",
        "5 % of writes ($batches and their items) carried out, then answered 503/502/504",
    ),
    Profile(
        "429-bursts",
        "burst=0.15,429=0.02",
        "15 % of $batches throttled from a random item on; 2 % of requests 429",
    ),
    Profile("drop", "drop=0.03", "3 % of connections dropped before Graph acts"),
    Profile("lost", "lost=0.03", "3 % of answers lost after Graph acted (connection cut)"),
    Profile("slow", "slow=0.05:0.4", "5 % of answers 0.4 s late"),
    Profile(
        "token-expiry",
        "expire=0.05",
        "5 % of requests find the token expired (401) once it served 16; msal refreshes it",
        sign_in=True,
    ),
    Profile("malformed", "malformed=0.03", "3 % of answers are JSON cut off midway"),
    Profile(
        "batch-answers",
        "batch=0.2",
        "20 % of $batch answers shuffled, or one missing or a duplicated id",
    ),
    Profile(
        "overlap",
        "overlap=0.5",
        "half the pages reached by a next link repeat 1-3 items of the page before",
        config={"server_page_size": 25},
    ),
    Profile(
        "nextlink",
        "nextlink=0.2",
        "20 % of next links fail (503 or a dropped connection)",
        config={"server_page_size": 25},
    ),
    Profile(
        "all",
        "5xx=0.02,429=0.01,burst=0.05,drop=0.01,lost=0.01,slow=0.02:0.3,expire=0.005,"
        "malformed=0.01,batch=0.05,overlap=0.2,nextlink=0.05,late5xx=0.02",
        "every fault above at once, at lower rates",
        sign_in=True,
        config={"server_page_size": 25},
    ),
)
PHASES = ("step1", "step4", "step5")


@dataclass
class Trial:
    """What one trial found."""

    kind: str
    name: str
    seed: int
    exact: bool = False
    duplicates: int = 0
    lost: int = 0
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    detail: str = ""
    output: str = field(default="", repr=False)
    """The last run's JSON lines and messages, for a failure's post-mortem."""
    reruns: int = 0
    """Fault trials: second runs made because closeout advised a new plan (see fault_trial)."""
    injected: Counter[str] = field(default_factory=Counter)
    """Fault trials: the random faults the sandbox served, per kind."""
    in_flight: Counter[str] = field(default_factory=Counter)
    """Kill trials: the intents the killed run left without an outcome, per action."""
    cpu: float = 0.0
    """CPU seconds the trial took (its process and the children it waited for)."""

    @property
    def ok(self) -> bool:
        return self.exact and not self.duplicates and not self.lost


SCALE = 4 * FAST
"""The sandbox's clock: 72 hours pass in about 0.4 s. The trials judge end states, not the
order or timing of the steps, so nothing needs the tests' usual margin of real seconds."""


def trial_sandbox(seed: int, users: int, **kw: Any) -> Sandbox:
    return start_sandbox(SandboxConfig(users=users, seed=seed, time_scale=SCALE, **kw))
