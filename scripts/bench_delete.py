"""Benchmark: deleting N users against Graph's write quota, closeout vs a sequential client.

The physical limit for bulk deletion is the identity write quota (3,000 writes per 150 s per
app and tenant, graph-api.md §8), not our code. This prints, for one sandbox tenant each:

* closeout's path — the batch executor with the write pacer (what step 1 uses): elapsed time,
  the floor the quota sets, their ratio (target <= 1.05), 429s, failed and repeated deletions;
* a sequential one-request-at-a-time client (what PowerShell and CLI loops do), honouring
  Retry-After, on an identical tenant.

A benchmark, not a test: it prints numbers. Usage::

    python -m scripts.bench_delete [--users 4000] [--time-scale 5] [--latency-ms 20]

``--time-scale`` runs the sandbox clock faster so a 150 s window passes in 150/scale real
seconds; latency is real milliseconds per request. The floor for N writes with a sliding window
of Q per W is ``floor((N - 1) / Q) * W``: the first Q go at once, each further Q one window later.
"""

from __future__ import annotations

import argparse
import math
import random
import time

import requests

from services.batch import BatchExecutor, BatchItem, Outcome
from services.control import RunControl
from services.graph import GraphClient
from services.pacing import WritePacer
from services.sandbox import SandboxConfig, start_sandbox


class StaticToken:
    def __init__(self, token: str) -> None:
        self._token = token

    def token(self, *, force_refresh: bool = False) -> str:
        return self._token


def floor_seconds(n: int, quota: int, window: float) -> float:
    return math.floor((n - 1) / quota) * window if n > 0 else 0.0


def make_sandbox(args: argparse.Namespace):
    return start_sandbox(
        SandboxConfig(
            users=args.users + 1,
            seed=args.seed,
            synced_fraction=0.0,
            admin_count=0,
            time_scale=args.time_scale,
            latency_ms=args.latency_ms,
            deleted_users=0,
        )
    )


def targets(sb) -> list[str]:
    return [u.id for u in sb.tenant.users.values() if u.id != sb.admin_id]


def report(name: str, sb, elapsed: float, ids: list[str], window_real: float, quota: int) -> None:
    rec = sb.recorder
    deletes = [r for r in rec.writes() if r.method == "DELETE"]
    ok = [r for r in deletes if r.status == 204]
    per_target = rec.writes_per_target()
    repeated = sum(1 for n in per_target.values() if n > 1)
    throttled = sum(1 for r in deletes if r.status == 429)
    left = sum(1 for i in ids if i in sb.tenant.users)
    floor = floor_seconds(len(ids), quota, window_real)
    ratio = f"{elapsed / floor:.3f}" if floor else "n/a"
    print(
        f"{name:<12} users={len(ids):>6}  elapsed={elapsed:8.1f}s  floor={floor:7.1f}s  "
        f"ratio={ratio:>6}  deleted={len(ok):>6}  not deleted={left}  repeated={repeated}  "
        f"429s={throttled}  max writes/window={rec.max_writes_in_window(150.0)}"
    )


def run_closeout(args: argparse.Namespace) -> None:
    sb = make_sandbox(args)
    try:
        window = 150.0 / args.time_scale
        client = GraphClient(sb.base_url, StaticToken(sb.issue_token(lifetime=24 * 3600)))
        ids = targets(sb)
        items = [
            BatchItem(key=i, method="DELETE", url=f"/users/{i}", action="delete-user") for i in ids
        ]
        pacer = WritePacer(3000, window)
        control = RunControl()
        started = time.monotonic()
        results = BatchExecutor(client, control=control, pacer=pacer, concurrency=4).run(items)
        elapsed = time.monotonic() - started
        failed = sum(1 for r in results if r.outcome == Outcome.failed)
        report("closeout", sb, elapsed, ids, window, 3000)
        if failed:
            print(f"{'':<12} failed items: {failed}")
        client.close()
    finally:
        sb.stop()


def run_sequential(args: argparse.Namespace) -> None:
    sb = make_sandbox(args)
    try:
        window = 150.0 / args.time_scale
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {sb.issue_token(lifetime=24 * 3600)}"
        ids = targets(sb)
        rng = random.Random(1)
        started = time.monotonic()
        for uid in ids:
            while True:
                resp = s.delete(f"{sb.base_url}/v1.0/users/{uid}", timeout=30)
                if resp.status_code == 429:
                    time.sleep(float(resp.headers.get("Retry-After", "1")) + rng.uniform(0, 0.01))
                    continue
                break
        elapsed = time.monotonic() - started
        report("sequential", sb, elapsed, ids, window, 3000)
    finally:
        sb.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=4000)
    parser.add_argument("--time-scale", type=float, default=5.0)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--skip-sequential", action="store_true")
    args = parser.parse_args()
    print(
        f"deleting {args.users} users; write quota 3000 per 150 simulated s "
        f"({150 / args.time_scale:.1f} real s at time scale {args.time_scale:g}); "
        f"latency {args.latency_ms:g} ms per request"
    )
    run_closeout(args)
    if not args.skip_sequential:
        run_sequential(args)


if __name__ == "__main__":
    main()
