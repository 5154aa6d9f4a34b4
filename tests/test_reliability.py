"""A sample of the reliability suite (``python -m scripts.reliability`` runs the full set and
prints its figures): whole close-outs under faults, close-outs SIGKILLed with writes in flight
then resumed, and a hostile tenant's close-out, each ending in exactly the designed state with
nothing written twice, no record lost and no raw control character on any surface. Fixed
seeds: a failure says how the script replays it (``--replay NAME:SEED``).
"""

from __future__ import annotations

import pytest

from scripts.reliability import (
    PROFILES,
    Trial,
    fault_trial,
    hostile_trial,
    kill_trial,
)

pytestmark = pytest.mark.slow

SEED = 20261202
_BY_NAME = {p.name: p for p in PROFILES}


def assert_clean(trial: Trial) -> None:
    replay = f"replay: python -m scripts.reliability --replay {trial.name}:{trial.seed}"
    assert trial.exact, f"{trial.problems} — {replay}"
    assert trial.duplicates == 0, replay
    assert trial.lost == 0, f"{trial.problems} — {replay}"


@pytest.mark.parametrize("name", ["all"])
def test_a_whole_close_out_under_faults_ends_exact(name: str) -> None:
    trial = fault_trial(_BY_NAME[name], SEED, users=60)
    assert_clean(trial)


@pytest.mark.parametrize(("phase", "seed"), [("step1", SEED), ("step4", SEED), ("step5", SEED)])
def test_a_close_out_killed_with_writes_in_flight_resumes_to_the_exact_end(
    phase: str, seed: int
) -> None:
    trial = kill_trial(phase, seed, users=60)
    assert_clean(trial)


def test_a_hostile_tenant_closes_with_every_surface_inert_and_its_names_shown() -> None:
    trial = hostile_trial(SEED)
    assert_clean(trial)
    assert "names shown visibly on 11/11" in trial.detail
