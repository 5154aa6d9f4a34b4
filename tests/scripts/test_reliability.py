"""The reliability suite's full set (``python -m scripts.reliability`` prints its figures), in
the default suite: whole close-outs under every kind of fault, close-outs SIGKILLed with writes
in flight then resumed, and a hostile tenant's close-out, each ending in exactly the designed
state with nothing written twice, no record lost and no raw control character on any surface.

The set is the script's with its default seed, in groups that xdist spreads over its workers;
each group runs its trials side by side in worker processes (scripts/reliability/pool.py), since
a trial mostly waits. The trials the suite kept as its sample before (its own seed, 60-user
tenants) run in the groups too. A failure names every failing trial and how to replay it.
"""

from __future__ import annotations

import pytest

from scripts.reliability import DEFAULT_SEED, PHASES, PROFILES, Spec, Trial, trials
from scripts.reliability.pool import run_all

pytestmark = pytest.mark.slow

JOBS = 4
FULL_SET = list(trials(seed=DEFAULT_SEED, users=120, kills=20, only=None, per_fault=3))
SAMPLE = [
    Spec("fault", "all", DEFAULT_SEED, 60),
    *(Spec("kill", phase, DEFAULT_SEED, 60) for phase in PHASES),
]
_FIRST_HALF = {p.name for p in PROFILES[: len(PROFILES) // 2]}


def _group(spec: Spec) -> str:
    if spec.kind == "fault":
        return "faults-a" if spec.name in _FIRST_HALF else "faults-b"
    if spec.kind == "kill":
        return f"kills-{spec.name}"
    return "hostile-names"


GROUPS: dict[str, list[Spec]] = {}
for _spec in [*FULL_SET, *SAMPLE]:
    GROUPS.setdefault(_group(_spec), []).append(_spec)


def test_the_full_set_is_the_scripts_default() -> None:
    assert len(FULL_SET) == 3 * len(PROFILES) + 1 + 20 * len(PHASES)
    assert sorted(GROUPS) == sorted(
        ["faults-a", "faults-b", "hostile-names", *(f"kills-{p}" for p in PHASES)]
    )


def _said(trial: Trial, spec: Spec) -> str:
    size = "--users" if spec.kind == "fault" else "--kill-users"
    return (
        f"{trial.kind} {trial.name} seed {trial.seed}: exact {trial.exact}, dup "
        f"{trial.duplicates}, lost {trial.lost}, {trial.problems[:4]} — replay: python -m "
        f"scripts.reliability --replay {spec} {size} {spec.users}"
    )


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_trial_ends_exact_with_nothing_written_twice_and_no_record_lost(group: str) -> None:
    specs = GROUPS[group]
    by_name = {str(spec): spec for spec in specs}
    done = {f"{t.name}:{t.seed}": t for t in run_all(specs, JOBS)}
    assert sorted(done) == sorted(by_name)
    failed = [_said(t, by_name[name]) for name, t in done.items() if not t.ok]
    assert not failed, "\n".join(failed)
    if group == "hostile-names":
        (trial,) = done.values()
        assert "names shown visibly on 11/11" in trial.detail
