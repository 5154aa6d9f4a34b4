"""Benchmark: how close does step 1 come to the floor Graph's write quota sets for N users?

The physical limit for bulk deletion is the identity write quota, 3,000 writes per 150 s per
app and tenant (graph-api.md §8.2), not our code. For each size this starts a sandbox tenant of
N users (+ the admin) in a process of its own, as Graph is, and deletes them through closeout's
real path: sign-in, inventory, plan, journal (intent lines fsynced before each batch), the batch
executor and the write pacer, either headless (the engine's step 1, as ``closeout run
--headless`` runs it) or in the TUI (``--tui``: the real app under Textual's Pilot; down, r, y).
``--sequential`` runs a one-request-at-a-time client instead (what PowerShell and CLI loops
do), for comparison. It prints, per size, measured by the sandbox on its own clock:

* ``ratio``: from the first write Graph counted to the last, over the floor the quota sets
  (``floor((N - 1) / quota) * window``: the first ``quota`` writes at once, each further
  ``quota`` one window later; the target is <= 1.03);
* ``429s`` (all), and how many of them the write quota refused (``own``: with no other writer
  on the tenant, only our own pacing can cause those; the target is 0);
* failures (items closeout reported failed), duplicates (objects deleted successfully more than
  once) and users left;
* the busiest 150-s window's write count, as the sandbox's quota counted it (<= 3,000).

What is simulated, and what time-scaling does to it: the sandbox clock runs ``--time-scale``
times faster than real time, so a 150-s window passes in 150/scale real seconds (100,000 users
take about 8 minutes at the default scale 10, not 83). Graph's own answer time is simulated
too: each request to the sandbox takes ``--latency-ms`` simulated milliseconds (default 500,
a slow-ish ``$batch`` of 20 deletes), i.e. ``latency / scale`` real milliseconds. Everything on
closeout's side (CPU, the journal's fsyncs, locks, the TUI's rendering and garbage collection)
and the sandbox's own work run in real time, so at scale S they weigh S times more against the
window than they would against Graph: a ratio printed here is, if anything, pessimistic.

Usage::

    python -m scripts.bench_delete --users 10000,30000,100000 [--tui] [--time-scale 10]

``--quota`` shrinks the write quota (the CI test runs 1,000 users against 250 per 150 s, so
that they span four windows as 12,000 would against 3,000); ``--write-limit bucket`` plays
Graph's "token bucket" as a steadily refilled bucket instead of a sliding window;
``--faults "429=0.001"`` adds 429s that nobody's pacing caused (their Retry-After, 0.2-1.5 s,
is in real seconds: at a high time scale each costs far more of the window than it would).
A benchmark, not a test: it prints numbers (tests/scripts/test_bench_delete.py asserts on the
1,000-user run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GRAPH_QUOTA = 3000
GRAPH_WINDOW = 150.0


@dataclass(frozen=True)
class Measurement:
    """One deletion run, measured on the sandbox's clock (simulated seconds)."""

    users: int
    mode: str
    quota: int
    window: float
    time_scale: float
    latency_ms: float
    elapsed: float
    """From the first write the quota counted to the last."""
    floor: float
    throttled: int
    """Every 429 answer (items and whole batches), whoever caused it."""
    own_429: int
    """429s the app+tenant write quota gave: with no other writer, our pacing caused them."""
    failures: int
    duplicates: int
    not_deleted: int
    busiest_window: int
    wall: float
    """Real seconds for the whole run, sign-in and listing included."""

    @property
    def ratio(self) -> float | None:
        return self.elapsed / self.floor if self.floor > 0 else None

    def line(self) -> str:
        ratio = f"{self.ratio:.3f}" if self.ratio is not None else "n/a"
        return (
            f"{self.mode:<8} users={self.users:>7,}  elapsed={self.elapsed:8.1f}s  "
            f"floor={self.floor:7.1f}s  ratio={ratio:>6}  429s={self.throttled} "
            f"(own {self.own_429})  failures={self.failures}  duplicates={self.duplicates}  "
            f"not deleted={self.not_deleted}  busiest {self.window:g}-s window="
            f"{self.busiest_window:,}  wall={self.wall:.0f}s"
        )


def floor_seconds(n: int, quota: int, window: float) -> float:
    """The least time between the first and the last of ``n`` writes a sliding quota allows."""
    return math.floor((n - 1) / quota) * window if n > 0 else 0.0


# -- the sandbox, in a process of its own -----------------------------------------------------


def serve(config: dict[str, Any]) -> None:
    """``--serve``: run a sandbox; print its address, then answer ``report`` lines on stdin."""
    from services.sandbox import SandboxConfig, start_sandbox

    window = float(config.pop("window"))
    quota = int(config.pop("quota"))
    sb = start_sandbox(SandboxConfig(**config, write_quota=(quota, window)))
    info = {"url": sb.base_url, "authority": sb.authority, "token": sb.issue_token(lifetime=86400)}
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        if line.strip() == "times":  # for looking into a run: every counted write's time
            print(json.dumps(sb.throttle.admitted_writes()), flush=True)
        elif line.strip() == "report":
            print(json.dumps(sandbox_report(sb, window)), flush=True)
        else:
            break
    sb.stop()


def sandbox_report(sb: Any, window: float) -> dict[str, Any]:
    counted = sb.throttle.admitted_writes()
    refusals = sb.throttle.refusals()
    deletes = [
        r
        for r in sb.recorder.writes()
        if r.method == "DELETE" and r.path.startswith("/v1.0/users/")
    ]
    repeated = sb.recorder.writes_per_target()
    return {
        "counted": len(counted),
        "first": counted[0] if counted else 0.0,
        "last": counted[-1] if counted else 0.0,
        "throttled": sb.recorder.count(status=429),
        "own_429": sum(1 for r in refusals if r.write_quota_exceeded),
        "duplicates": sum(1 for n in repeated.values() if n > 1),
        "deleted": sum(1 for r in deletes if r.status == 204),
        "left": sum(1 for u in sb.tenant.users.values() if u.id != sb.admin_id),
        "busiest": sb.throttle.max_writes_in_window(window),
    }


class SandboxProcess:
    """A sandbox in a process of its own, run by ``module``'s ``--serve``: it prints its
    address as one JSON line, then answers each line sent to it with one JSON line."""

    def __init__(self, config: dict[str, Any], module: str = "scripts.bench_delete") -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, "--serve", json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=30)
            raise RuntimeError("the sandbox process did not start")
        self.info: dict[str, str] = json.loads(line)

    def ask(self, line: str) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def report(self) -> dict[str, Any]:
        return self.ask("report")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- closeout's side ---------------------------------------------------------------------------


def session_options(info: dict[str, str], time_scale: float, state: Path) -> Any:
    from services.session import SessionOptions

    return SessionOptions(
        graph_url=info["url"],
        authority=info["authority"],
        environ={"CLOSEOUT_ACCESS_TOKEN": info["token"]},
        sandbox_time_scale=time_scale,
        state_root=state,
        use_token_cache=False,
    )


def delete_headless(info: dict[str, str], *, time_scale: float, quota: int, state: Path) -> int:
    """Step 1 through the engine, as ``closeout run --headless --yes`` runs it; items failed."""
    from services.control import RunControl
    from services.models import Event, ItemFinished, StepId
    from services.pacing import WritePacer
    from services.session import Session

    failed = 0
    lock = threading.Lock()

    def sink(event: Event) -> None:
        nonlocal failed
        if isinstance(event, ItemFinished) and event.outcome == "failed":
            with lock:
                failed += 1

    session = Session(session_options(info, time_scale, state))
    try:
        engine = session.connect(sink=sink, write=True)
        if quota != GRAPH_QUOTA:
            # A shrunken quota (the CI run): the pacer must know it, as it knows Graph's.
            engine.options.write_quota = quota
            engine.pacer = WritePacer(quota, engine.options.write_window)
        engine.refresh()
        engine.ensure_plan()
        engine.begin("run", {"yes": True, "benchmark": True})
        engine.run_step(StepId.DELETE_USERS, control=RunControl())
    finally:
        session.close()
    return failed


def delete_in_tui(info: dict[str, str], *, time_scale: float, users: int, state: Path) -> int:
    """Step 1 in the real TUI under Pilot (select it, r, y); items failed."""
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    from app.closeout_app import CloseoutApp
    from scripts.bench_tui import start_step_1, wait_loaded
    from services.models import StepId

    app = CloseoutApp(session_options(info, time_scale, state), watch=False)

    async def drive() -> int:
        async with app.run_test(size=(120, 40)) as pilot:
            try:
                await asyncio.wait_for(wait_loaded(app, pilot, users), timeout=900)
            except TimeoutError:
                raise RuntimeError(f"the app did not load the tenant: {app.screen!r}") from None
            await start_step_1(app, pilot)
            while app.step_running is not None:
                await asyncio.sleep(0.1)
            assert app.engine is not None
            failed = app.engine.states[StepId.DELETE_USERS].failed
            await pilot.press("q")
            return failed

    try:
        return asyncio.run(drive())
    finally:
        # As app/main.py does after the app returns: the journal and its tenant lock.
        if app.session is not None:
            app.session.close()


def delete_sequentially(info: dict[str, str]) -> int:
    """What PowerShell and CLI loops do: one DELETE at a time, honouring Retry-After."""
    import requests

    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {info['token']}"
    me = http.get(f"{info['url']}/v1.0/me", timeout=60).json()["id"]
    ids: list[str] = []
    url: str | None = f"{info['url']}/v1.0/users?$select=id&$top=999"
    while url:
        page = http.get(url, timeout=60).json()
        ids += [u["id"] for u in page["value"] if u["id"] != me]
        url = page.get("@odata.nextLink")
    failed = 0
    for uid in ids:
        while True:
            resp = http.delete(f"{info['url']}/v1.0/users/{uid}", timeout=60)
            if resp.status_code != 429:
                break
            time.sleep(float(resp.headers.get("Retry-After", "1")))
        failed += resp.status_code >= 400 and resp.status_code != 404
    return failed


MODES = ("headless", "tui", "sequential")


@contextlib.contextmanager
def _runtime_dir(path: str) -> Iterator[None]:
    """Per-tenant run locks in ``path``: every run of one seed is the same tenant id, and a
    benchmark must not meet a closeout (or another benchmark) running on this machine."""
    before = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = path
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("XDG_RUNTIME_DIR", None)
        else:
            os.environ["XDG_RUNTIME_DIR"] = before


def measure(
    users: int,
    *,
    mode: str = "headless",
    time_scale: float = 10.0,
    latency_ms: float = 500.0,
    quota: int = GRAPH_QUOTA,
    window: float = GRAPH_WINDOW,
    write_limit: str = "window",
    faults: str = "",
    seed: int = 11,
) -> Measurement:
    """Delete ``users`` users from a fresh sandbox tenant and measure it on the sandbox clock.

    ``mode``: ``headless`` (the engine's step 1), ``tui`` (the app), or ``sequential`` (a
    one-request-at-a-time client, for comparison).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if mode == "tui" and (quota, window) != (GRAPH_QUOTA, GRAPH_WINDOW):
        raise ValueError("the TUI paces to Graph's quota and window; --quota is for headless")
    sandbox = SandboxProcess(
        {
            "users": users + 1,
            "seed": seed,
            "synced_fraction": 0.0,
            "admin_count": 0,
            "deleted_users": 0,
            "manual_blockers": False,
            "time_scale": time_scale,
            "latency_ms": latency_ms / time_scale,
            "write_limit": write_limit,
            "faults": faults,
            "quota": quota,
            "window": window,
        }
    )
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="closeout-bench-") as state, _runtime_dir(state):
            if mode == "tui":
                failed = delete_in_tui(
                    sandbox.info, time_scale=time_scale, users=users, state=Path(state)
                )
            elif mode == "sequential":
                failed = delete_sequentially(sandbox.info)
            else:
                failed = delete_headless(
                    sandbox.info, time_scale=time_scale, quota=quota, state=Path(state)
                )
        report = sandbox.report()
    finally:
        sandbox.close()
    return Measurement(
        users=users,
        mode=mode,
        quota=quota,
        window=window,
        time_scale=time_scale,
        latency_ms=latency_ms,
        elapsed=report["last"] - report["first"],
        floor=floor_seconds(report["counted"], quota, window),
        throttled=report["throttled"],
        own_429=report["own_429"],
        failures=failed,
        duplicates=report["duplicates"],
        not_deleted=report["left"],
        busiest_window=report["busiest"],
        wall=time.monotonic() - started,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="10000", help="sizes, comma-separated")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--tui", action="store_true", help="delete in the TUI (Pilot)")
    how.add_argument(
        "--sequential", action="store_true", help="a one-request-at-a-time client instead"
    )
    parser.add_argument("--time-scale", type=float, default=10.0)
    parser.add_argument(
        "--latency-ms", type=float, default=500.0, help="Graph's answer time, simulated ms"
    )
    parser.add_argument("--quota", type=int, default=GRAPH_QUOTA)
    parser.add_argument("--window", type=float, default=GRAPH_WINDOW)
    parser.add_argument("--write-limit", choices=("window", "bucket"), default="window")
    parser.add_argument("--faults", default="", help='sandbox faults, e.g. "429=0.001"')
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", action="store_true", help="one JSON object per size")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(json.loads(args.serve))
        return
    sizes = [int(s.replace("_", "")) for s in args.users.split(",") if s.strip()]
    print(
        f"write quota {args.quota:,} per {args.window:g} simulated s ({args.write_limit}); "
        f"time scale {args.time_scale:g} (a window is {args.window / args.time_scale:.1f} real s); "
        f"Graph answers in {args.latency_ms:g} simulated ms"
        + (f"; faults {args.faults}" if args.faults else ""),
        flush=True,
    )
    for users in sizes:
        m = measure(
            users,
            time_scale=args.time_scale,
            latency_ms=args.latency_ms,
            quota=args.quota,
            window=args.window,
            mode="tui" if args.tui else "sequential" if args.sequential else "headless",
            write_limit=args.write_limit,
            faults=args.faults,
            seed=args.seed,
        )
        if args.json:
            print(json.dumps({**asdict(m), "ratio": m.ratio}), flush=True)
        else:
            print(m.line(), flush=True)


if __name__ == "__main__":
    main()
