"""Kill trials: a close-out SIGKILLed with a phase's writes in flight, then resumed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest  # MonkeyPatch: run_cli sets the token variable through it

from services.journal.writer import Journal
from services.sandbox import Sandbox
from tests.support.cli_harness import LineTap, PortalHuman, full_run_args, run_cli

from . import ROOT
from .checks import before, end_state_problems, json_lines, lost_records, said_last, written_twice
from .model import DEFAULT_USERS, Trial, trial_sandbox

# -- kill trials ------------------------------------------------------------------------------

# Writes slowed on the server, per phase, so that a kill lands while they are in flight.
_PHASE_WRITES = {
    "step1": (r"^/v1\.0/(users/[0-9a-f-]+|organization/[0-9a-f-]+)$", ("DELETE", "PATCH")),
    "step4": (
        r"^/(v1\.0/identity/conditionalAccess/policies/|beta/users/[0-9a-f-]+/authentication/"
        r"requirements)",
        ("PATCH",),
    ),
    "step5": (
        r"^/v1\.0/(directory/deletedItems/|applications/|servicePrincipals/)",
        ("DELETE", "PATCH"),
    ),
}


class _Piped:
    """A child's stdout copied line by line into a LineTap (the PortalHuman reads it)."""

    def __init__(self, proc: subprocess.Popen[bytes], tap: LineTap) -> None:
        self._proc = proc
        self._tap = tap
        self._thread = threading.Thread(target=self._copy, daemon=True)
        self._thread.start()

    def _copy(self) -> None:
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            self._tap.write(raw.decode("utf-8", errors="replace"))

    def join(self) -> None:
        self._thread.join(timeout=10)


def _kept_account(sb: Sandbox) -> str | None:
    """A member with per-user MFA on, kept so that step 4 has an account's MFA to turn off."""
    for u in sb.tenant.users.values():
        if (
            u.id != sb.admin_id
            and u.user_type == "Member"
            and not u.synced
            and u.mfa_state != "disabled"
            and not any(u.id in r.members for r in sb.tenant.roles.values())
        ):
            return u.id
    return None


def kill_trial(phase: str, seed: int, users: int = DEFAULT_USERS) -> Trial:
    """Start a close-out in a process of its own, SIGKILL it with ``phase``'s writes in flight
    (after a random number of them arrived), then resume in a new run to the end."""
    trial = Trial("kill", phase, seed)
    started = time.monotonic()
    rng = random.Random(seed)
    # Step 1's kill meets directory sync too: the first write is turning it off.
    sb = trial_sandbox(seed, users, synced_fraction=0.3 if phase == "step1" else 0.0)
    try:
        with tempfile.TemporaryDirectory(prefix="closeout-reliability-") as tmp:
            state = Path(tmp) / "state"
            kept: frozenset[str] = frozenset()
            extra: list[str] = []
            if phase == "step4":
                uid = _kept_account(sb)
                if uid is not None:
                    kept = frozenset({uid})
                    extra = ["--keep", sb.tenant.users.get(uid).user_principal_name]
            was = before(sb, kept)
            path, methods = _PHASE_WRITES[phase]
            slow = [
                sb.add_fault(method=m, path=path, status=None, delay=0.03, times=-1)
                for m in methods
            ]
            expected = _phase_writes(sb, phase, len(kept))
            # A quarter of step 1's and step 5's kills land on the phase's first PATCH
            # (turning sync off; disabling a service principal that refuses deletion), which a
            # uniform pick among its many DELETEs would seldom meet.
            on_patch = phase != "step4" and rng.random() < 0.25
            counted = [r for r in slow if r.method == "PATCH"] if on_patch else slow
            kill_at = 1 if on_patch else rng.randint(1, max(1, expected))
            trial.detail = (
                "killed at its first PATCH"
                if on_patch
                else f"killed at write {kill_at} of ~{expected}"
            )
            token = sb.issue_token()
            argv = [*full_run_args(sb, state), *extra]
            if phase == "step4":
                argv = [a for a in argv if a not in ("--confirm-domain", sb.initial_domain)]
            env = {**os.environ, "CLOSEOUT_ACCESS_TOKEN": token}
            # Sixty children import the same modules: let them cache the bytecode.
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            tap = LineTap()
            proc = subprocess.Popen(
                [sys.executable, "-m", "app.cli", *argv],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            piped = _Piped(proc, tap)
            killed = False
            try:
                with PortalHuman(sb, tap):
                    deadline = time.monotonic() + 240
                    while time.monotonic() < deadline and proc.poll() is None:
                        if sum(r.hits for r in counted) >= kill_at:
                            proc.send_signal(signal.SIGKILL)
                            killed = True
                            break
                        time.sleep(0.002)
            finally:
                if proc.poll() is None and not killed:
                    proc.kill()
                proc.wait()
                piped.join()
            if not killed:
                trial.problems.append(f"the kill never landed (exit {proc.returncode})")
            # What the dead process had sent goes on being carried out, as Graph would.
            _settle_server(sb)
            unfinished = Journal(sb.tenant_id, root=state).unfinished()
            if unfinished is not None:
                trial.in_flight.update(str(p.get("action")) for p in unfinished.pending)
            trial.detail += f"; in flight: {dict(trial.in_flight) or 'nothing'}"
            for rule in slow:
                rule.times = 0
            tap = LineTap()
            with pytest.MonkeyPatch.context() as mp, PortalHuman(sb, tap) as human:
                resumed = run_cli(
                    [*full_run_args(sb, state), *extra] if phase != "step4" else argv,
                    monkeypatch=mp,
                    token=token,
                    tap=tap,
                )
            trial.output = resumed.out + resumed.err
            want = 3 if phase == "step4" else 0
            if resumed.code != want:
                trial.problems.append(f"resume exit {resumed.code}: {said_last(tap)}")
            if killed and not any(o.get("event") == "resume" for o in json_lines(tap)):
                trial.problems.append("the next run did not resume the killed one")
            trial.problems += [f"portal: {e}" for e in human.errors]
            trial.problems += end_state_problems(sb, was, tenant_deleted=phase != "step4")
            trial.exact = not trial.problems
            trial.duplicates = sum(written_twice(sb).values())
            lost = lost_records(sb, state)
            trial.lost = len(lost)
            trial.problems += lost[:5]
    finally:
        sb.stop()
    trial.seconds = time.monotonic() - started
    return trial


def _phase_writes(sb: Sandbox, phase: str, kept: int) -> int:
    """About how many writes ``phase`` sends, to pick the kill among."""
    t = sb.tenant
    if phase == "step1":
        return len(t.users) - 1 + (1 if any(u.synced for u in t.users.values()) else 0)
    if phase == "step4":
        mfa = [p for p in t.ca_policies.values() if "mfa" in p.built_in_controls]
        return max(1, len(mfa) + kept)
    third_party = [sp for sp in t.service_principals.values() if not sp.is_microsoft]
    return len(t.users) - 1 + len(t.deleted_users) + 2 * len(t.applications) + len(third_party)


def _settle_server(sb: Sandbox) -> None:
    last = -1
    while last != len(sb.recorder.records()):
        last = len(sb.recorder.records())
        time.sleep(0.2)
