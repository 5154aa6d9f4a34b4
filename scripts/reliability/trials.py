"""The set of trials: each by what it is (:class:`Spec`, picklable for a worker), the full set
in order with seeds derived from one, a trial named by its line, and a worker's own dirs."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from .faults import fault_trial
from .hostile import hostile_trial
from .kills import kill_trial
from .model import DEFAULT_KILL_USERS, HOSTILE_USERS, PHASES, PROFILES, Trial


@dataclass(frozen=True)
class Spec:
    """One trial by what it is (picklable: a worker process runs it, see scripts/reliability/pool.py)."""

    kind: str
    """``fault``, ``kill`` or ``data``."""
    name: str
    """A fault profile, a kill phase or ``hostile-names``."""
    seed: int
    users: int
    faults: str = ""
    """A fault trial's own fault spec in place of its profile's (``--faults``)."""

    def run(self) -> Trial:
        if self.kind == "fault":
            profile = PROFILES_BY_NAME[self.name]
            if self.faults:
                profile = replace(profile, faults=self.faults)
            return fault_trial(profile, self.seed, self.users)
        if self.kind == "kill":
            return kill_trial(self.name, self.seed, self.users)
        return hostile_trial(self.seed)

    def __str__(self) -> str:
        return f"{self.name}:{self.seed}"


PROFILES_BY_NAME = {p.name: p for p in PROFILES}


def trials(
    *,
    seed: int,
    users: int,
    kills: int,
    only: set[str] | None,
    per_fault: int = 1,
    kill_users: int = DEFAULT_KILL_USERS,
) -> Iterator[Spec]:
    """The full set, in order; each trial's seed derives from ``seed``."""
    rng = random.Random(seed)
    for profile in PROFILES:
        for _ in range(per_fault):
            s = rng.randrange(1, 2**31)
            if only is None or {"faults", profile.name} & only:
                yield Spec("fault", profile.name, s, users)
    s = rng.randrange(1, 2**31)
    if only is None or {"data", "hostile-names"} & only:
        yield Spec("data", "hostile-names", s, HOSTILE_USERS)
    for phase in PHASES:
        for _ in range(kills):
            s = rng.randrange(1, 2**31)
            if only is None or {"kills", phase} & only:
                yield Spec("kill", phase, s, kill_users)


def replay(spec: str, users: int, kill_users: int = DEFAULT_KILL_USERS) -> Spec:
    """The trial ``NAME:SEED`` names (a fault profile, a kill phase or ``hostile-names``)."""
    name, _, seed_text = spec.partition(":")
    seed = int(seed_text)
    if name in PROFILES_BY_NAME:
        return Spec("fault", name, seed, users)
    if name in PHASES:
        return Spec("kill", name, seed, kill_users)
    if name == "hostile-names":
        return Spec("data", name, seed, HOSTILE_USERS)
    raise SystemExit(f"no trial named {name!r}")


def private_dirs(base: Path) -> None:
    """closeout's state, runtime (per-tenant locks) and config dirs of this run's own."""
    for var in ("XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = str(base / var.lower())
    runtime = base / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    os.environ.pop("CLOSEOUT_ACCESS_TOKEN", None)
    os.environ["LANG"] = "C.UTF-8"
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        os.environ.pop(var, None)
