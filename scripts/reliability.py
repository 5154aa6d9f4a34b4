"""Reliability suite: whole close-outs under faults and SIGKILLs, and the figures they give.

Each trial closes a sandbox tenant end to end through closeout's real path (``run --headless``
confirming everything, the admin's portal part played through the sandbox's control endpoints
once closeout hands it over) and then asks the sandbox what really happened:

* **exact**: the end state is the designed one — the tenant deleted with only the admin left,
  every other user deleted once, the recycle bin empty, no application left, every subscription
  deprovisioned, no non-Microsoft service principal enabled, every MFA-requiring Conditional
  Access policy off, the admin's MFA untouched — and the run exited 0;
* **duplicates**: writes Graph received for an object after it had already carried out the
  same write (a DELETE or PATCH sent again after it was done: "written twice");
* **lost**: objects Graph wrote for closeout that the journal does not record as done or gone,
  and intents left without an outcome (the evidence would deny what Graph did).

Fault trials run one close-out under one kind of fault, injected at random by the sandbox (see
``services/sandbox/faults.py``): 5 % 5xx, 5 % of writes answered 5xx after Graph carried them
out, 429 bursts inside ``$batch``es, dropped connections,
answers lost after Graph acted, slow answers, a token expiring mid-run (signed in through the
device code flow, so that closeout can refresh it), JSON cut off midway, shuffled, missing or
duplicated ``$batch`` answers, overlapping pages, failing next links, and all of them at once.
When the answer to turning directory sync off is lost (a 5xx, a cut connection), closeout
counts it as sent and never resends it within the 72 hours; if users are still synchronized
after them it says so and advises a new plan and step 1 again. A trial then does as advised,
once, and counts it in the ``reruns`` column: the end state is judged after that second run.

Kill trials start the close-out in a process of its own and SIGKILL it at a random moment while
its writes are in flight — in step 1 (turning directory sync off, deleting users), in step 4
(turning MFA-requiring Conditional Access policies and a kept account's per-user MFA off) or in
step 5's cleanup (purging deleted users, deleting applications and service principals,
disabling those that refuse) — then resume with a new run to the end. Every write is slowed a
little on the server so that a kill lands with requests in flight, which Graph then carries out
for a process that no longer exists: the resume must settle them by reading, not by sending
them again.

The data trial closes a tenant whose names attack the admin's terminal (the sandbox's
``--hostile-names``: escapes, C1 controls, bidi overrides, markup, spreadsheet formulas) and
counts raw control characters on every surface — ``plan`` and ``status`` as text and JSON, a
run's text and JSON output, the log file, the journal, each file of the evidence pack, live
formulas in its CSV — and checks that the names are there, visibly escaped. (The TUI's screen
is checked through Textual's Pilot in tests/tui/test_app_hostile_names.py.)

Usage::

    python -m scripts.reliability                 # the full set: 3 close-outs per fault, 20 kills per phase
    python -m scripts.reliability --replay step5:1834647133   # one trial again, by its line
    python -m scripts.reliability --kills 3 --only kills --seed 7 --jobs 1

Every trial's seed derives from ``--seed`` (printed first); a failing trial's line names its
own seed, and ``--replay NAME:SEED`` runs that one trial again (``--output DIR`` keeps the
output of each failing trial's last run). Trials run ``--jobs`` at a time, each in a worker
process (scripts/reliability_pool.py): a trial mostly waits. Fault trials close 120-user
tenants, kill trials 60-user ones (``--users``, ``--kill-users``), on a sandbox clock where 72
hours pass in about 0.4 s. A benchmark-style script: it prints figures and exits 1 when any
trial was not exact, wrote twice or lost a record. ``tests/scripts/test_reliability.py`` runs
the same full set in the default suite.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the harness the tests drive closeout with: tests/support/
    sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402  (MonkeyPatch: run_cli sets the token variable through it)

from services.evidence.layout import PACK_FILES  # noqa: E402
from services.journal.writer import Journal  # noqa: E402
from services.sandbox import Sandbox, SandboxConfig, start_sandbox  # noqa: E402
from services.sandbox.tenant import GLOBAL_ADMIN  # noqa: E402
from services.textsafe import UNSAFE  # noqa: E402
from tests.support.cli_harness import (  # noqa: E402
    FAST,
    LineTap,
    PortalHuman,
    full_run_args,
    run_cli,
    target_args,
)

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


# -- what a trial checks ----------------------------------------------------------------------


def _graph_writes(sb: Sandbox) -> list[Any]:
    return [w for w in sb.recorder.writes() if w.path.startswith(("/v1.0/", "/beta/"))]


def written_twice(sb: Sandbox) -> dict[tuple[str, str], int]:
    """Writes received for a (method, path) after Graph had already carried out that write."""
    carried_out: set[tuple[str, str]] = set()
    again: Counter[tuple[str, str]] = Counter()
    for w in sorted(_graph_writes(sb), key=lambda r: r.real_time):
        key = (w.method, w.path)
        if key in carried_out:
            again[key] += 1
        if 200 <= w.status < 300:
            carried_out.add(key)
    return dict(again)


def lost_records(sb: Sandbox, state: Path) -> list[str]:
    """Objects Graph wrote that the journal does not record as done or gone, and intents the
    journal leaves without an outcome."""
    records = Journal(sb.tenant_id, root=state).records()
    recorded = {
        str(r.get("object"))
        for r in records
        if r.get("kind") == "outcome" and r.get("result") in _OK
    }
    written = {w.object_id for w in _graph_writes(sb) if 200 <= w.status < 300 and w.object_id}
    lost = [f"written, not recorded: {oid}" for oid in sorted(written - recorded)]
    open_intents: set[tuple[Any, Any]] = set()
    for r in records:
        key = (r.get("action"), r.get("object"))
        if r.get("kind") == "intent":
            open_intents.add(key)
        elif r.get("kind") == "outcome":
            open_intents.discard(key)
    lost += [f"intent without an outcome: {a} {o}" for a, o in sorted(open_intents, key=str)]
    return lost


@dataclass(frozen=True)
class Before:
    """What the tenant held before the close-out, to judge its end against."""

    users: frozenset[str]
    admin_mfa: str
    kept: frozenset[str] = frozenset()


def before(sb: Sandbox, kept: frozenset[str] = frozenset()) -> Before:
    t = sb.tenant
    return Before(
        frozenset(u.id for u in t.users.values()), t.users.get(sb.admin_id).mfa_state, kept
    )


def end_state_problems(sb: Sandbox, was: Before, *, tenant_deleted: bool = True) -> list[str]:
    """Every way the sandbox's end state differs from the designed one."""
    t = sb.tenant
    problems: list[str] = []
    rec = sb.recorder
    staying = {sb.admin_id, *was.kept}
    if tenant_deleted:
        deleted = rec.events("tenant-deleted")
        if len(deleted) != 1:
            problems.append(f"tenant deleted {len(deleted)} times")
        elif deleted[0].detail["users"] != [sb.admin_id]:
            problems.append(f"tenant deleted with users {deleted[0].detail['users']}")
    left = {u.id for u in t.users.values()} - staying
    if left:
        problems.append(f"{len(left)} users left")
    gone = [e.detail["id"] for e in rec.events("user-deleted")]
    twice = [uid for uid, n in Counter(gone).items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} users deleted twice")
    if set(gone) != set(was.users) - staying:
        problems.append(f"deleted {len(set(gone))} users, expected {len(was.users - staying)}")
    for kind in (
        "synced-delete-refused",
        "self-delete-refused",
        "last-global-admin-delete-refused",
    ):
        if rec.events(kind):
            problems.append(f"{kind}: {len(rec.events(kind))}")
    if t.users.get(sb.admin_id).mfa_state != was.admin_mfa:
        problems.append("the admin's MFA was changed")
    for uid in was.kept:
        if t.users.get(uid) is None or t.users.get(uid).mfa_state != "disabled":
            problems.append(f"kept account {uid}: MFA not off")
    mfa_on = [
        p.id
        for p in t.ca_policies.values()
        if ("mfa" in p.built_in_controls or p.authentication_strength) and p.state != "disabled"
    ]
    if mfa_on:
        problems.append(f"{len(mfa_on)} MFA policies still on")
    if tenant_deleted:
        if t.deleted_users:
            problems.append(f"{len(t.deleted_users)} users in the recycle bin")
        if t.applications:
            problems.append(f"{len(t.applications)} applications left")
        if any(s.status != "Deleted" for s in t.subscriptions.values()):
            problems.append("a subscription not deprovisioned")
        enabled = [
            sp.id
            for sp in t.service_principals.values()
            if sp.account_enabled and not sp.is_microsoft
        ]
        if enabled:
            problems.append(f"{len(enabled)} service principals still enabled")
    with contextlib.suppress(KeyError):
        if sb.admin_id not in t.roles[GLOBAL_ADMIN].members:
            problems.append("the admin lost Global Administrator")
    return problems


# -- fault trials -----------------------------------------------------------------------------


SCALE = 4 * FAST
"""The sandbox's clock: 72 hours pass in about 0.4 s. The trials judge end states, not the
order or timing of the steps, so nothing needs the tests' usual margin of real seconds."""


def _sandbox(seed: int, users: int, **kw: Any) -> Sandbox:
    return start_sandbox(SandboxConfig(users=users, seed=seed, time_scale=SCALE, **kw))


def _asks_for_a_new_plan(tap: LineTap) -> bool:
    return any(
        o.get("event") == "waiting" and "make a new plan" in str(o.get("message"))
        for o in _json(tap)
    )


def _said_last(tap: LineTap) -> str:
    """What a run said last that explains how it ended: its errors, stops, waits and failed
    items (an exit 3 says why in a ``waiting`` line: an outage, a handoff, a blocked step)."""
    lines = [
        o
        for o in _json(tap)
        if o.get("event") in ("error", "stopped", "waiting", "failed")
        or o.get("outcome") in ("failed", "unknown")
    ]
    return " | ".join(json.dumps(o, ensure_ascii=True)[:400] for o in lines[-4:])


def fault_trial(profile: Profile, seed: int, users: int = DEFAULT_USERS) -> Trial:
    """One whole headless close-out under ``profile``'s faults."""
    trial = Trial("fault", profile.name, seed)
    started = time.monotonic()
    sign_in = {"device_code_auto_approve": 0.0} if profile.sign_in else {}
    sb = _sandbox(seed, users, faults=profile.faults, **sign_in, **profile.config)
    try:
        with tempfile.TemporaryDirectory(prefix="closeout-reliability-") as tmp:
            state = Path(tmp) / "state"
            was = before(sb)
            tap = LineTap()
            token = "" if profile.sign_in else sb.issue_token()
            with pytest.MonkeyPatch.context() as mp:
                with PortalHuman(sb, tap) as human:
                    result = run_cli(full_run_args(sb, state), monkeypatch=mp, token=token, tap=tap)
                errors = list(human.errors)
                if result.code == 3 and _asks_for_a_new_plan(tap):
                    # What closeout tells the admin when a turn-off of directory sync it could
                    # not confirm (a 5xx, a lost answer) leaves users synchronized after the
                    # 72 hours: make a new plan and run again. Done as told, and counted.
                    trial.reruns += 1
                    run_cli(["plan", *target_args(sb, state)], monkeypatch=mp, token=token)
                    tap = LineTap()
                    with PortalHuman(sb, tap) as human:
                        result = run_cli(
                            full_run_args(sb, state), monkeypatch=mp, token=token, tap=tap
                        )
                    errors += human.errors
            trial.output = result.out + result.err
            if result.code != 0:
                trial.problems.append(f"exit {result.code}: {_said_last(tap)}")
            trial.problems += [f"portal: {e}" for e in errors]
            trial.problems += end_state_problems(sb, was)
            trial.exact = not trial.problems
            trial.duplicates = sum(written_twice(sb).values())
            lost = lost_records(sb, state)
            trial.lost = len(lost)
            trial.problems += lost[:5]
            trial.injected = Counter(sb.faults.injected)
            trial.detail = (
                f"{len(sb.recorder.records())} requests, faults met: {dict(trial.injected)}"
                + ("; a new plan and a second run, as closeout advised" if trial.reruns else "")
            )
    finally:
        sb.stop()
    trial.seconds = time.monotonic() - started
    return trial


# -- hostile data -----------------------------------------------------------------------------


def _raw_controls(text: str, line_ends: str = "\n") -> int:
    return sum(1 for c in UNSAFE.findall(text) if c not in line_ends)


def _decoded_controls(text: str) -> int:
    """Control characters in the values a JSON text decodes to (``\\u001b`` is ESC again
    in whatever prints the value)."""
    found = 0
    stack: list[Any] = [json.loads(text)]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            found += len(UNSAFE.findall(v))
        elif isinstance(v, dict):
            stack += [*v.keys(), *v.values()]
        elif isinstance(v, list):
            stack += v
    return found


def hostile_surfaces(
    sb: Sandbox, state: Path, run_text: str, texts: dict[str, str]
) -> dict[str, int]:
    """Raw control characters per surface after a close-out of a hostile tenant (want 0 each):
    ``plan`` and ``status`` as text and JSON (while the tenant still stood: see
    :func:`hostile_trial`), the run's own output, its log file, journal and evidence pack
    files, and spreadsheet formulas left live in the pack's CSV cells. ``texts`` gets each
    surface's text, to check that the names are there, visibly."""
    found: dict[str, int] = {"run output (text)": _raw_controls(run_text)}
    texts["run output (text)"] = run_text
    log = state / "logs" / "closeout.log"
    found["closeout.log"] = _raw_controls(log.read_text(encoding="utf-8"))
    journal = Journal(sb.tenant_id, root=state).path.read_text(encoding="utf-8")
    texts["journal.jsonl"] = journal
    found["journal.jsonl"] = _raw_controls(journal) + sum(
        _decoded_controls(line) for line in journal.splitlines() if line.strip()
    )
    packs = sorted((Journal(sb.tenant_id, root=state).directory / "evidence").iterdir())
    for name in PACK_FILES:
        text = (packs[-1] / name).read_text(encoding="utf-8-sig")
        texts[f"evidence {name}"] = text
        n = _raw_controls(text, "\r\n")
        if name.endswith(".json"):
            n += _decoded_controls(text)
        found[f"evidence {name}"] = n
    with (packs[-1] / "outcomes.csv").open(newline="", encoding="utf-8-sig") as fh:
        found["evidence outcomes.csv: live formulas"] = sum(
            1
            for row in csv.DictReader(fh)
            for cell in row.values()
            if cell.lstrip(" ").startswith(("=", "+", "-", "@"))
        )
    return found


_NAMES_SHOWN_ON = (
    "plan",
    "plan --json",
    "status",
    "status --json",
    "run output (text)",
    "run output (JSON lines)",
    "journal.jsonl",
    "evidence outcomes.csv",
    "evidence outcomes.json",
    "evidence inventory-before.json",
    "evidence summary.md",
)


def hostile_trial(seed: int, users: int = HOSTILE_USERS) -> Trial:
    """A whole close-out, as text, of a tenant whose names attack the admin's terminal (the
    sandbox's ``--hostile-names``), then every surface checked for raw control characters."""
    trial = Trial("data", "hostile-names", seed)
    started = time.monotonic()
    sb = _sandbox(seed, users, hostile_names=True, synced_fraction=0.0)
    try:
        with tempfile.TemporaryDirectory(prefix="closeout-reliability-") as tmp:
            state = Path(tmp) / "state"
            was = before(sb)
            found: dict[str, int] = {}
            texts: dict[str, str] = {}
            with pytest.MonkeyPatch.context() as mp:
                for argv in (["plan"], ["plan", "--json"], ["status"], ["status", "--json"]):
                    r = run_cli(
                        [*argv, *target_args(sb, state)], monkeypatch=mp, token=sb.issue_token()
                    )
                    n = _raw_controls(r.out + r.err)
                    texts[" ".join(argv)] = r.out
                    found[" ".join(argv)] = n + (
                        _decoded_controls(r.out) if "--json" in argv else 0
                    )
                # As text, as far as the API goes (steps 1 and 4, the handoff naming the
                # subscriptions); then the whole close-out as JSON lines, whose handoffs the
                # PortalHuman reads to play the admin's part.
                text_run = run_cli(
                    [
                        "run",
                        "--headless",
                        "--yes",
                        "--no-wait",
                        "--disable-ca-mfa",
                        *target_args(sb, state),
                    ],
                    monkeypatch=mp,
                    token=sb.issue_token(),
                )
                if text_run.code != 3:
                    trial.problems.append(f"text run exit {text_run.code}")
                tap = LineTap()
                with PortalHuman(sb, tap) as human:
                    result = run_cli(
                        full_run_args(sb, state), monkeypatch=mp, token=sb.issue_token(), tap=tap
                    )
                texts["run output (JSON lines)"] = result.out
                found["run output (JSON lines)"] = sum(
                    _raw_controls(line) + _decoded_controls(line)
                    for line in result.out.splitlines()
                    if line.strip()
                )
            trial.output = result.out + result.err
            if result.code != 0:
                trial.problems.append(f"exit {result.code}: {_said_last(tap)}")
            trial.problems += [f"portal: {e}" for e in human.errors]
            trial.problems += end_state_problems(sb, was)
            found.update(hostile_surfaces(sb, state, text_run.out + text_run.err, texts))
            dirty = {k: v for k, v in found.items() if v}
            trial.problems += [f"{k}: {v} raw control characters" for k, v in dirty.items()]
            # Inert is not enough: the names must be there, their escapes visible ("\x1b[2J").
            hidden = [k for k in _NAMES_SHOWN_ON if "\\x1b" not in texts.get(k, "")]
            trial.problems += [f"{k}: no hostile name shown" for k in hidden]
            trial.exact = not trial.problems
            trial.duplicates = sum(written_twice(sb).values())
            trial.lost = len(lost_records(sb, state))
            trial.detail = (
                f"{len(found)} surfaces, {sum(found.values())} raw control characters, names "
                f"shown visibly on {len(_NAMES_SHOWN_ON) - len(hidden)}/{len(_NAMES_SHOWN_ON)}"
            )
    finally:
        sb.stop()
    trial.seconds = time.monotonic() - started
    return trial


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
    sb = _sandbox(seed, users, synced_fraction=0.3 if phase == "step1" else 0.0)
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
                trial.problems.append(f"resume exit {resumed.code}: {_said_last(tap)}")
            if killed and not any(o.get("event") == "resume" for o in _json(tap)):
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


def _json(tap: LineTap) -> list[dict[str, Any]]:
    out = []
    for line in tap.lines():
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


# -- the figures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One trial by what it is (picklable: a worker process runs it, see reliability_pool)."""

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
            profile = _PROFILES[self.name]
            if self.faults:
                profile = replace(profile, faults=self.faults)
            return fault_trial(profile, self.seed, self.users)
        if self.kind == "kill":
            return kill_trial(self.name, self.seed, self.users)
        return hostile_trial(self.seed)

    def __str__(self) -> str:
        return f"{self.name}:{self.seed}"


_PROFILES = {p.name: p for p in PROFILES}


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
    if name in _PROFILES:
        return Spec("fault", name, seed, users)
    if name in PHASES:
        return Spec("kill", name, seed, kill_users)
    if name == "hostile-names":
        return Spec("data", name, seed, HOSTILE_USERS)
    raise SystemExit(f"no trial named {name!r}")


def _private_dirs(base: Path) -> None:
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


def main(argv: list[str] | None = None) -> int:
    from scripts.reliability_pool import run_all

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--users", type=int, default=DEFAULT_USERS, help="users per fault trial's tenant"
    )
    parser.add_argument(
        "--kill-users", type=int, default=DEFAULT_KILL_USERS, help="users per kill trial's tenant"
    )
    parser.add_argument("--kills", type=int, default=DEFAULT_KILLS, help="kill trials per phase")
    parser.add_argument(
        "--per-fault", type=int, default=DEFAULT_PER_FAULT, help="close-outs per fault profile"
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma list: faults, kills, a fault profile or a phase (step1, step4, step5)",
    )
    parser.add_argument(
        "--replay",
        metavar="NAME:SEED",
        help="run the one trial a line names (its name and trial seed), e.g. step5:1834647133",
    )
    parser.add_argument(
        "--jobs", type=int, default=DEFAULT_JOBS, help="trials run side by side (1: one by one)"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="run a --replay trial this many times, side by side"
    )
    parser.add_argument(
        "--faults",
        default="",
        metavar="SPEC",
        help="fault trials run under this fault spec instead of their profile's, e.g. expire=0.04",
    )
    parser.add_argument("--output", type=Path, help="write a failing trial's last run here")
    args = parser.parse_args(argv)
    only = {p.strip() for p in args.only.split(",") if p.strip()} or None
    print(
        f"seed {args.seed}, {args.users} users per fault trial's tenant, {args.kill_users} per "
        f"kill trial's, {args.per_fault} close-outs per fault profile, {args.kills} kills per "
        f"phase, {args.jobs} side by side"
    )
    specs = (
        [replay(args.replay, args.users, args.kill_users)] * max(1, args.repeat)
        if args.replay
        else list(
            trials(
                seed=args.seed,
                users=args.users,
                kills=args.kills,
                only=only,
                per_fault=args.per_fault,
                kill_users=args.kill_users,
            )
        )
    )
    if args.faults:
        specs = [replace(s, faults=args.faults) if s.kind == "fault" else s for s in specs]
    started = time.monotonic()
    rows: dict[tuple[str, str], list[Trial]] = defaultdict(list)
    for t in run_all(specs, args.jobs):
        if not t.ok and args.output:
            args.output.mkdir(parents=True, exist_ok=True)
            (args.output / f"{t.name}-{t.seed}-{id(t)}.txt").write_text(t.output, encoding="utf-8")
        rows[(t.kind, t.name)].append(t)
        mark = "ok" if t.ok else "FAIL"
        print(
            f"  {mark:4} {t.kind:5} {t.name:13} seed {t.seed:<10} {t.seconds:5.1f} s"
            f" (CPU {t.cpu:4.1f} s)  dup {t.duplicates} lost {t.lost}  {t.detail}",
            flush=True,
        )
        for p in t.problems[:8]:
            print(f"         {p}", flush=True)
        if not t.ok:
            print(f"         replay: --replay {t.name}:{t.seed}", flush=True)
    cpu = sum(t.cpu for ts in rows.values() for t in ts)
    print(f"\n{len(specs)} trials in {time.monotonic() - started:.0f} s, {cpu:.0f} CPU seconds")
    # The table in the order of the set, whatever order the trials finished in.
    order: dict[tuple[str, str], int] = {}
    for spec in specs:
        order.setdefault((spec.kind, spec.name), len(order))
    rows = dict(sorted(rows.items(), key=lambda kv: order[kv[0]]))
    print()
    print(
        f"{'kind':5} {'name':13} {'trials':>6} {'exact':>6} {'dup':>4} {'lost':>5} {'faults':>7}"
        f" {'reruns':>6}"
    )
    total = Counter[str]()
    for (kind, name), ts in rows.items():
        exact = sum(t.exact for t in ts)
        dup = sum(t.duplicates for t in ts)
        lost = sum(t.lost for t in ts)
        met = sum(sum(t.injected.values()) for t in ts)
        reruns = sum(t.reruns for t in ts)
        total.update(trials=len(ts), exact=exact, dup=dup, lost=lost, met=met, reruns=reruns)
        shown = str(met) if kind == "fault" else "-"
        print(f"{kind:5} {name:13} {len(ts):6} {exact:6} {dup:4} {lost:5} {shown:>7} {reruns:6}")
    print(
        f"{'all':19} {total['trials']:6} {total['exact']:6} {total['dup']:4} {total['lost']:5}"
        f" {total['met']:7} {total['reruns']:6}"
    )
    in_flight = Counter[str]()
    for ts in rows.values():
        for t in ts:
            in_flight.update(t.in_flight)
    if in_flight:
        print("writes in flight at the kills, settled by the resume:")
        for action, n in sorted(in_flight.items()):
            print(f"  {action:32} {n:5}")
    failed = total["trials"] - total["exact"] or total["dup"] or total["lost"]
    return 1 if failed else 0


if __name__ == "__main__":
    # Through the module's own name: worker processes find what it defines there.
    from scripts.reliability import main as _main

    raise SystemExit(_main())
