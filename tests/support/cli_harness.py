"""Shared helpers for the engine and CLI tests: run ``closeout`` against a sandbox tenant over
real HTTP (in-process or as a subprocess) and play the human's part in the portals through
the sandbox's ``/_sandbox/`` control endpoints.

Not a test module itself; the ``test_engine_*`` and ``test_cli_*`` modules import it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from app.cli import main
from services.sandbox import Sandbox
from tests.support import REPO

# Fast enough that a 72-hour wait passes in about a second and a half of real time.
FAST = 150_000.0
POLL = "0.05"


class LineTap(io.TextIOBase):
    """A thread-safe stdout stand-in whose complete lines another thread may watch."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        with self._lock:
            self._parts.append(text)
        return len(text)

    def writable(self) -> bool:
        return True

    def getvalue(self) -> str:
        with self._lock:
            return "".join(self._parts)

    def lines(self) -> list[str]:
        text = self.getvalue()
        return text.split("\n")[:-1]  # the last piece is an unfinished line (or empty)

    def json_lines(self) -> list[dict[str, Any]]:
        """Every complete line as JSON (the caller asked for ``--json``); bad lines raise."""
        return [json.loads(line) for line in self.lines() if line.strip()]


@dataclass
class Result:
    code: int
    out: str
    err: str
    tap: LineTap = field(repr=False)

    def json_lines(self) -> list[dict[str, Any]]:
        return self.tap.json_lines()

    @property
    def text(self) -> str:
        return self.out + self.err


def target_args(sb: Sandbox, state_dir: Path) -> list[str]:
    scale = sb.clock.time_scale
    return [
        *(["--time-scale", str(scale)] if scale != 1 else []),
        "--graph-url",
        sb.base_url,
        "--authority",
        sb.authority,
        "--state-dir",
        str(state_dir),
        "--poll-interval",
        POLL,
        "--no-token-cache",
    ]


def full_run_args(sb: Sandbox, state_dir: Path) -> list[str]:
    """``run --headless`` confirming everything: the whole close-out, as JSON lines."""
    return [
        "run",
        "--headless",
        "--yes",
        "--confirm-domain",
        sb.initial_domain,
        "--confirm-manual",
        "all",
        "--disable-ca-mfa",
        "--json",
        *target_args(sb, state_dir),
    ]


def run_cli(
    argv: Sequence[str],
    *,
    monkeypatch: pytest.MonkeyPatch,
    token: str,
    tap: LineTap | None = None,
) -> Result:
    """``closeout argv`` in this process with ``token`` as CLOSEOUT_ACCESS_TOKEN (``""``: the
    variable is unset, so closeout signs in some other way or not at all)."""
    if token:
        monkeypatch.setenv("CLOSEOUT_ACCESS_TOKEN", token)
    else:
        monkeypatch.delenv("CLOSEOUT_ACCESS_TOKEN", raising=False)
    out = tap or LineTap()
    err = LineTap()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return Result(code, out.getvalue(), err.getvalue(), out)


def export_offline(
    tenant: str, state_dir: Path, *, monkeypatch: pytest.MonkeyPatch, out: Path | None = None
) -> Result:
    """``closeout export --offline --tenant TENANT`` from local files only (no token)."""
    argv = ["export", "--offline", "--tenant", tenant, "--state-dir", str(state_dir)]
    return run_cli(
        [*argv, *(["--out", str(out)] if out else [])], monkeypatch=monkeypatch, token=""
    )


def export_pack(
    sb: Sandbox, state_dir: Path, out: Path, *, monkeypatch: pytest.MonkeyPatch
) -> Result:
    """``closeout export --out OUT`` of ``sb``'s close-out, signed in with a fresh token."""
    return run_cli(
        ["export", "--out", str(out), *target_args(sb, state_dir)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )


def forged_token(sb: Sandbox, tenant_id: str) -> str:
    """A token the sandbox signed that names another tenant (a forged or unknown ``tid``)."""
    from services.sandbox.core import ALL_SCOPES

    return sb.tokens.issue_user_token(
        user_id=sb.admin_id,
        upn=sb.admin_upn,
        app_id="14d82eec-204b-4c2f-b7e8-296a70dab67e",
        scopes=ALL_SCOPES,
        tenant_id=tenant_id,
    )


def straight_to_step5(make_sandbox: Callable[..., Sandbox], **kw: Any) -> Sandbox:
    """A small cloud-only tenant with no subscriptions and no manual checks, on a fast clock:
    a headless run reaches step 5's cleanup at once. ``kw``: other settings (``behaviours=``)."""
    settings: dict[str, Any] = {
        "users": 10,
        "seed": 7,
        "admin_count": 0,
        "synced_fraction": 0,
        "subscriptions": "none",
        "manual_blockers": False,
        "deleted_users": 0,
        "time_scale": FAST,
    }
    return make_sandbox(**{**settings, **kw})


def deletable_sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """A tenant with nothing left but its admin, so that the portal lets it be deleted."""
    return make_sandbox(
        users=1,
        seed=11,
        admin_count=0,
        deleted_users=0,
        applications=0,
        third_party_service_principals=0,
        subscriptions="none",
        manual_blockers=False,
        synced_fraction=0,
        guest_fraction=0,
    )


def sandbox_state(sb: Sandbox) -> dict[str, Any]:
    resp = requests.get(f"{sb.base_url}/_sandbox/state", timeout=10)
    resp.raise_for_status()
    return resp.json()


def run_no_wait(
    sb: Sandbox, state_dir: Path, monkeypatch: pytest.MonkeyPatch, *extra: str
) -> Result:
    """``run --headless --yes --no-wait --json``: as far as the API goes without waiting."""
    return run_cli(
        ["run", "--headless", "--yes", "--no-wait", "--json", *extra, *target_args(sb, state_dir)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )


def delete_requests(sb: Sandbox, prefix: str = "/v1.0/users/") -> Counter[str]:
    """DELETEs per object id under ``prefix`` that reached Graph, whatever their answer (a
    dropped one included): more than one means the object was sent two DELETEs."""
    return Counter(
        r.path.rsplit("/", 1)[-1]
        for r in sb.recorder.records()
        if r.method == "DELETE" and r.path.startswith(prefix)
    )


def graph_writes(sb: Sandbox) -> list[Any]:
    """Write requests that reached Graph routes (``$batch`` envelopes and control calls aside)."""
    return [w for w in sb.recorder.writes() if w.path.startswith(("/v1.0/", "/beta/"))]


_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


# The admin center's answers to a click on a subscription whose state changed meanwhile.
_MOVED_ON = (", not active.", "Only disabled subscriptions can be deleted")


class PortalHuman:
    """The admin at the admin centers, as a background thread driven by what closeout says.

    It only acts on a part once closeout has handed it over (a ``handoff`` line for that step
    in the JSON output), and only on the objects that handoff names, always through the
    sandbox's HTTP control endpoints: cancels the active subscriptions step 2 names (through
    the partner only where closeout said so), deletes the disabled ones step 3 names, clears
    the checks no API can make, and, once closeout hands step 5 over, follows its click path:
    the self-service products and closeout's own app it names, then "Delete tenant".

    ``on_refused`` is called when the portal refuses "Delete tenant" (the admin reads the
    reason, e.g. to stop the run); a refusal is not an error then. With ``wait_for_watch``
    the admin, after deleting closeout's own app, waits until closeout says it watches
    without a sign-in before deleting the tenant. With ``delete_disabled_once_running=4`` the
    admin deletes step 3's disabled subscriptions only once closeout says step 4 runs: the
    order a test asserts, whatever the machine's speed (on a fast simulated clock a loaded
    machine can otherwise let the deprovisioning end before step 4 starts).
    """

    def __init__(
        self,
        sb: Sandbox,
        tap: LineTap,
        *,
        interval: float = 0.03,
        on_refused: Callable[[str], None] | None = None,
        wait_for_watch: bool = False,
        delete_disabled_once_running: int | None = None,
    ) -> None:
        self.sb = sb
        self.tap = tap
        self.interval = interval
        self.on_refused = on_refused
        self.wait_for_watch = wait_for_watch
        self.delete_disabled_once_running = delete_disabled_once_running
        self.stop = threading.Event()
        self.actions: list[str] = []
        self.errors: list[str] = []
        self.refusals: list[str] = []
        self.deleted_own_app_at: float | None = None
        self.delete_requested_after: dict[str, Any] | None = None
        self._tried_on = -1
        self._done: set[str] = set()
        self._parsed: list[dict[str, Any]] = []
        self._parsed_lines = 0
        self._thread = threading.Thread(target=self._loop, name="portal-human", daemon=True)
        self._http = requests.Session()

    def __enter__(self) -> PortalHuman:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._thread.join(timeout=10)
        self._http.close()

    def _post(self, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return self._http.post(f"{self.sb.base_url}/_sandbox/{path}", json=body or {}, timeout=10)

    def _said(self) -> list[dict[str, Any]]:
        # Parsed once per line: the loop runs every few milliseconds over a growing output.
        lines = self.tap.lines()
        for line in lines[self._parsed_lines :]:
            with contextlib.suppress(ValueError):
                self._parsed.append(json.loads(line))
        self._parsed_lines = len(lines)
        return self._parsed

    def _loop(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                if self._once():
                    return
            except Exception as exc:  # recorded, asserted on by the test
                self.errors.append(repr(exc))
                return

    def _once(self) -> bool:
        state = self._http.get(f"{self.sb.base_url}/_sandbox/state", timeout=10).json()
        if state["tenantDeleted"]:
            return True
        said = self._said()
        handoffs = [obj for obj in said if obj.get("event") == "handoff"]
        named: dict[int, set[str]] = {}
        for obj in handoffs:
            named.setdefault(obj["step"], set()).update(i["object"] for i in obj["items"])
        # As closeout advised: through the partner only where it said so. The sandbox refuses
        # a partner-bought one cancelled directly, and the other way round.
        advised = partner_advised(said)
        after = self.delete_disabled_once_running
        may_delete = after is None or any(
            o.get("event") == "step" and o.get("step") == after and o.get("status") == "running"
            for o in said
        )
        for sub in state["subscriptions"]:
            if sub["id"] in named.get(2, ()) and sub["status"] in ("Enabled", "Warning"):
                resp = self._post(
                    f"subscriptions/{sub['id']}/cancel", {"asPartner": sub["id"] in advised}
                )
                self._note(f"cancel {sub['sku']}", resp)
            if (
                may_delete
                and sub["id"] in named.get(3, ())
                and sub["status"] in ("Suspended", "LockedOut")
                and not sub["markedForDeletion"]
            ):
                self._note(f"delete {sub['sku']}", self._post(f"subscriptions/{sub['id']}/delete"))
        for key, resolved in state["manual"].items():
            if not resolved:
                self._note(f"resolve {key}", self._post(f"manual/{key}/resolve"))
        ready = [i for i, obj in enumerate(handoffs) if obj["step"] == 5]
        if not ready or self.delete_requested_after is not None or ready[-1] <= self._tried_on:
            return False
        latest = handoffs[ready[-1]]
        self._follow_click_path(latest, state)
        if self.wait_for_watch and self.deleted_own_app_at is not None and not self._watching():
            return False
        self._tried_on = ready[-1]
        resp = self._http.post(f"{self.sb.base_url}/_sandbox/tenant/delete", json={}, timeout=10)
        self.actions.append(f"delete tenant: {resp.status_code}")
        if resp.status_code == 200:
            self.delete_requested_after = latest
            return True
        self.refusals.append(resp.text)
        if self.on_refused is not None:
            self.on_refused(resp.text)
        else:
            self.errors.append(f"delete tenant: {resp.status_code} {resp.text[:300]}")
        return False

    def _follow_click_path(self, handoff: dict[str, Any], state: dict[str, Any]) -> None:
        """Delete what step 5's handoff names before the tenant: self-service sign-up products
        in Licenses, then closeout's own app (App registrations, else Enterprise applications)."""
        viral = {s["id"] for s in state["subscriptions"] if s["selfService"]}
        for item in handoff["items"]:
            key = item["object"]
            if not _GUID.match(key) or key in self._done:
                continue
            self._done.add(key)
            if key in viral:
                self._note(f"delete {item['label']}", self._post(f"self-service/{key}/delete"))
                continue
            resp = self._post(f"applications/{key}/delete")
            if resp.status_code == 404:
                resp = self._post(f"servicePrincipals/{key}/delete")
            self._note(f"delete app {item['label']}", resp)
            if resp.status_code == 200:
                self.deleted_own_app_at = self.sb.clock.now()

    def _watching(self) -> bool:
        return any(
            obj.get("event") == "note" and "public sign-in metadata" in obj.get("message", "")
            for obj in self._said()
        )

    def _note(self, what: str, resp: requests.Response) -> None:
        self.actions.append(f"{what}: {resp.status_code}")
        if resp.status_code == 409 and any(moved in resp.text for moved in _MOVED_ON):
            # The subscription's lifecycle moved on by itself between the read and the click
            # (a fast sandbox clock makes that likelier): as an admin would, look again.
            return
        if resp.status_code >= 400:
            self.errors.append(f"{what}: {resp.status_code} {resp.text[:200]}")


def close_with_portal(
    sb: Sandbox,
    argv: Sequence[str],
    *,
    monkeypatch: pytest.MonkeyPatch,
    token: str | None = None,
    **human: Any,
) -> tuple[Result, PortalHuman]:
    """``closeout argv`` with a :class:`PortalHuman` at the admin centers acting on its
    handoffs; the result and the human (whose ``errors`` a test checks). ``token``: a fresh one
    of ``sb`` unless given (``""``: none, so closeout signs in by device code). ``human``:
    PortalHuman's options."""
    tap = LineTap()
    with PortalHuman(sb, tap, **human) as person:
        result = run_cli(
            argv,
            monkeypatch=monkeypatch,
            token=sb.issue_token() if token is None else token,
            tap=tap,
        )
    return result, person


def partner_advised(said: list[dict[str, Any]]) -> set[str]:
    """Subscriptions closeout's latest step-2 handoff says to cancel through the partner."""
    handoffs = [o for o in said if o.get("event") == "handoff" and o.get("step") == 2]
    if not handoffs:
        return set()
    return {i["object"] for i in handoffs[-1]["items"] if "partner" in (i.get("note") or "")}


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def journal_records(sb: Sandbox, state_dir: Path) -> list[dict[str, Any]]:
    from services.journal.writer import Journal

    return Journal(sb.tenant_id, root=state_dir).records()


def pack_path(result: Result) -> Path:
    """The per-run evidence pack the run reported on stderr."""
    for line in result.err.splitlines():
        if line.startswith("Evidence pack: "):
            return Path(line.removeprefix("Evidence pack: ").strip())
    raise AssertionError(f"no evidence pack reported:\n{result.err}")


def read_outcomes_csv(pack: Path) -> list[dict[str, str]]:
    import csv

    with (pack / "outcomes.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@contextlib.contextmanager
def connected_session(
    sb: Sandbox, state_dir: Path, *, sink: Callable[[Any], None] | None = None, **options: Any
) -> Any:
    """A :class:`~services.session.Session` signed in to ``sb`` with a ready token and
    connected (its engine at ``.engine``, events to ``sink``), closed afterwards; ``options``
    are :class:`~services.session_options.SessionOptions` fields."""
    from services.session import Session
    from tests.support.sessions import sandbox_options

    session = Session(sandbox_options(sb, state_dir, follow_clock=True, **options))
    try:
        session.connect(sink=sink)
        yield session
    finally:
        session.close()


def spawn_cli(argv: Sequence[str], *, token: str, **popen: Any) -> subprocess.Popen[str]:
    """``closeout argv`` in a real process with ``token`` as CLOSEOUT_ACCESS_TOKEN, its output
    piped as text: for what only a process has (signals, a terminal, an exit code)."""
    env = {**os.environ, "CLOSEOUT_ACCESS_TOKEN": token, **popen.pop("env", {})}
    popen.setdefault("stdin", subprocess.DEVNULL)
    popen.setdefault("stdout", subprocess.PIPE)
    popen.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *argv], cwd=REPO, env=env, text=True, **popen
    )


class Lines:
    """A child's stdout read line by line on a thread, for waiting on what it says."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def json(self) -> list[dict[str, Any]]:
        with self._lock:
            lines = list(self.lines)
        return Lines.parse("\n".join(lines))

    @staticmethod
    def parse(text: str) -> list[dict[str, Any]]:
        """The JSON objects among ``text``'s lines (others are skipped)."""
        out = []
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                value = json.loads(line)
                if isinstance(value, dict):
                    out.append(value)
        return out

    def join(self, timeout: float = 10) -> None:
        self._thread.join(timeout)
