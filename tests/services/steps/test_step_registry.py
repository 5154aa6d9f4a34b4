"""The step registry is the one list of steps: its shape is the article's, and the engine and
the headless runner follow it (a fake step put in its place is assessed, asked about, run and
waited on by the registry's word, in the registry's order), against a sandbox over real HTTP.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from services.exit_codes import ExitCode
from services.models import StepId, StepState, StepStatus
from services.names import step_name
from services.sandbox import Sandbox
from services.steps import directory, registry
from tests.support.cli_harness import FAST, run_cli, target_args
from tests.support.fake_steps import fake_step

# Microsoft's "Close your account", its five steps in order, after closeout's step 0.
ARTICLE = (
    (0, "Before you begin"),
    (1, "Delete users"),
    (2, "Cancel active subscriptions"),
    (3, "Delete disabled subscriptions"),
    (4, "Disable multifactor authentication"),
    (5, "Delete the directory"),
)


def test_the_registry_is_the_articles_five_steps_after_step_0() -> None:
    assert [(int(s.id), s.name) for s in registry.STEPS] == list(ARTICLE)
    assert [(int(s), step_name(s)) for s in registry.ids()] == list(ARTICLE)
    # One entry per StepId: the numbers journals and JSON keep.
    assert sorted(registry.ids()) == list(StepId)
    # A step comes after every step it waits for (the stuck detection relies on it).
    seen: set[StepId] = set()
    for s in registry.STEPS:
        assert set(s.depends_on) <= seen, f"step {int(s.id)} waits for a later step"
        seen.add(s.id)
    assert registry.planning() is registry.STEPS[0]
    assert [s.id for s in registry.STEPS if s.plans] == [StepId.PREPARE]
    assert registry.typed() is registry.STEPS[-1]
    assert [s.id for s in registry.STEPS if s.typed_domain] == [StepId.DELETE_DIRECTORY]
    # Steps 2 and 3 have no API: handoff and watch.
    assert [int(s.id) for s in registry.STEPS if s.by_api] == [0, 1, 4, 5]
    # Whatever changes the tenant asks first; re-reading and planning does not.
    assert [int(s.id) for s in registry.STEPS if s.confirm is not None] == [1, 4, 5]
    assert registry.manual_checks() == directory.MANUAL_ITEMS
    # Only reading the tenant is needed by a read-only session too.
    assert [int(s.id) for s in registry.STEPS if s.requires.reading] == [0]


def test_headless_asks_runs_and_orders_by_the_registry(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = make_sandbox(users=12, seed=5, synced_fraction=0, time_scale=FAST)
    calls: list[StepId] = []
    real = {s.id: s for s in registry.STEPS}
    # Step 2 becomes a step an API runs, and the registry puts it before step 1.
    order = (StepId.PREPARE, StepId.CANCEL_SUBSCRIPTIONS, StepId.DELETE_USERS)
    monkeypatch.setattr(
        registry,
        "STEPS",
        (
            real[StepId.PREPARE],
            fake_step(StepId.CANCEL_SUBSCRIPTIONS, calls),
            *(s for s in real.values() if s.id not in order[:2]),
        ),
    )
    assert registry.ids()[:3] == order
    run = ["run", "--headless", "--json", "--no-wait", *target_args(sb, tmp_path / "state")]

    # Without --yes it asks, in the registry's order, with the registry's words.
    asked = run_cli(run, monkeypatch=monkeypatch, token=sb.issue_token())
    assert asked.code == ExitCode.WAITING and calls == []
    (plan,) = [e for e in asked.json_lines() if e["event"] == "plan"]
    n = plan["actions"]
    waiting = [e["message"] for e in asked.json_lines() if e["event"] == "waiting"]
    questions = [w for w in waiting if "Pass --yes" in w]
    assert questions[0] == f"step 2: Fake step 2 over {n} actions? Pass --yes to do it."
    assert questions[1].startswith("step 1: Delete 11 users?")
    # The engine assessed the fake by the registry's word, in the registry's place.
    steps = [e["step"] for e in asked.json_lines() if e["event"] == "step"]
    assert steps[:3] == [0, 2, 1]

    # With --yes the engine dispatches to the registry's run, in the registry's order.
    done = run_cli([*run, "--yes"], monkeypatch=monkeypatch, token=sb.issue_token())
    assert calls == [StepId.CANCEL_SUBSCRIPTIONS]
    confirmed = [(e["step"], e["message"]) for e in done.json_lines() if e["event"] == "confirmed"]
    # Step 1's question also names the users who hold mailbox or OneDrive data (issue 12).
    assert [(step, message.split(" of them hold")[0]) for step, message in confirmed] == [
        (2, f"Fake step 2 over {n} actions?"),
        (1, "Delete 11 users? They can be restored for 30 days. 8"),
    ]
    # Step 4 had nothing to do (only the kept admin is left); the real step 3 (a handoff) now
    # waits on a person, and step 5 on it.
    assert done.code == ExitCode.WAITING
    waiting = [e["message"] for e in done.json_lines() if e["event"] == "waiting"]
    assert [w.split(":")[0] for w in waiting] == ["step 3", "step 5"]


def test_stuck_detection_follows_the_registrys_dependencies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    states = {s: StepState(s) for s in StepId}
    states[StepId.PREPARE] = StepState(StepId.PREPARE, StepStatus.DONE)
    states[StepId.CANCEL_SUBSCRIPTIONS] = StepState(StepId.CANCEL_SUBSCRIPTIONS, StepStatus.BLOCKED)
    states[StepId.DISABLE_MFA] = StepState(StepId.DISABLE_MFA, StepStatus.BLOCKED)
    # Step 4 waits for step 1, which is pending: a wait may still unblock it.
    assert registry.stuck_for_good(states) == [StepId.CANCEL_SUBSCRIPTIONS]

    # A registry in which step 4 waits for step 2 instead: step 2 is stuck, so step 4 is too.
    mfa = registry.step(StepId.DISABLE_MFA)
    monkeypatch.setattr(
        registry,
        "STEPS",
        tuple(
            dataclasses.replace(s, depends_on=(StepId.CANCEL_SUBSCRIPTIONS,)) if s is mfa else s
            for s in registry.STEPS
        ),
    )
    assert registry.stuck_for_good(states) == [StepId.CANCEL_SUBSCRIPTIONS, StepId.DISABLE_MFA]


def test_may_run_reads_the_registry_entry() -> None:
    done = {s: StepState(s, StepStatus.DONE) for s in StepId}
    pending = {**done, StepId.DISABLE_MFA: StepState(StepId.DISABLE_MFA)}
    mfa = registry.step(StepId.DISABLE_MFA)
    assert registry.may_run(mfa, pending, read_only=False)
    assert not registry.may_run(mfa, pending, read_only=True)
    # Every step waits for the planning step, and for the steps it depends on.
    unplanned = {**pending, StepId.PREPARE: StepState(StepId.PREPARE)}
    assert not registry.may_run(mfa, unplanned, read_only=False)
    users_left = {**pending, StepId.DELETE_USERS: StepState(StepId.DELETE_USERS)}
    assert not registry.may_run(mfa, users_left, read_only=False)
    # A handoff has nothing to run; the planning step may always re-read, even read-only.
    cancel = registry.step(StepId.CANCEL_SUBSCRIPTIONS)
    assert not registry.may_run(cancel, {**done, cancel.id: StepState(cancel.id)}, read_only=False)
    assert registry.may_run(registry.planning(), unplanned, read_only=True)
