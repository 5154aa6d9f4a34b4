"""``python -m scripts.reliability``: its options, the trials run side by side, and the
figures printed as they finish and as a table."""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

from .model import (
    DEFAULT_JOBS,
    DEFAULT_KILL_USERS,
    DEFAULT_KILLS,
    DEFAULT_PER_FAULT,
    DEFAULT_SEED,
    DEFAULT_USERS,
    Trial,
)
from .trials import replay, trials


def main(argv: list[str] | None = None) -> int:
    from scripts import reliability

    from .pool import run_all

    parser = argparse.ArgumentParser(
        prog="python -m scripts.reliability", description=str(reliability.__doc__).split("\n", 1)[0]
    )
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
