"""Benchmark: closeout's peak memory (RSS) per command at 10,000 and 100,000 users.

The target (issue 10): at most 250 MB peak RSS for the whole closeout process at 100,000 users,
for ``plan``, ``run --headless`` really deleting, the TUI loaded and running, and the evidence
pack. The sandbox tenant runs in a process of its own (as Graph does), so every figure is
closeout's alone; each closeout command runs in a fresh process and its peak is the kernel's
(``ru_maxrss`` from ``wait4``). Per size, on one tenant: ``plan``, ``plan --json``, ``status``,
``run --headless --yes --no-wait`` (deletes every user, then writes the evidence pack) and
``export`` (the pack of every run: the journal of 100,000 deletions); on a second tenant the
TUI (under Textual's Pilot): loaded (peak while signing in and loading every user), running
(step 1 deleting every user) and quitting (the run's evidence pack), each phase's peak measured
apart (``/proc/self/clear_refs``). Also printed per command: the Graph reads it sent (GET
requests the sandbox answered) and how many of them were pages of the user list::

    python -m scripts.bench_memory [--users 10000,100000] [--only plan,run,tui] [--time-scale 100]

A benchmark, not a test: it prints numbers. Memory does not depend on the machine's load;
the wall times printed beside it do.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.bench_delete import ROOT, SandboxProcess, session_options

TARGET_MB = 250.0
COMMANDS = ("plan", "plan-json", "status", "run", "export", "tui")


# -- the sandbox, in a process of its own -----------------------------------------------------


def serve(config: dict[str, Any]) -> None:
    """``--serve``: a sandbox; prints its address, then answers ``reads`` lines on stdin with
    the GET requests it answered since the last ``reads`` (user-list pages apart)."""
    from services.sandbox import SandboxConfig, start_sandbox

    sb = start_sandbox(SandboxConfig(**config))
    info = {
        "url": sb.base_url,
        "authority": sb.authority,
        "domain": sb.initial_domain,
        "token": sb.issue_token(lifetime=86400),
    }
    print(json.dumps(info), flush=True)
    seen = 0
    for line in sys.stdin:
        if line.strip() != "reads":
            break
        records = sb.recorder.records()
        fresh, seen = records[seen:], len(records)
        gets = [r for r in fresh if r.method == "GET" and not r.in_batch]
        print(
            json.dumps(
                {
                    "reads": len(gets),
                    "user_pages": sum(1 for r in gets if r.path == "/v1.0/users"),
                    "role_reads": sum(1 for r in gets if r.path.startswith("/v1.0/directoryRoles")),
                    "writes": sum(1 for r in fresh if r.is_write and r.in_batch),
                }
            ),
            flush=True,
        )
    sb.stop()


def start_sandbox_process(users: int, time_scale: float, seed: int) -> SandboxProcess:
    config = {
        "users": users + 1,
        "seed": seed,
        "synced_fraction": 0.0,
        "time_scale": time_scale,
        "manual_blockers": False,
    }
    return SandboxProcess(config, module="scripts.bench_memory")


# -- closeout's side ---------------------------------------------------------------------------


@dataclass
class Figure:
    users: int
    what: str
    peak_mb: float
    wall: float
    reads: dict[str, int]
    code: int | None = None

    def line(self) -> str:
        flag = "ok " if self.peak_mb <= TARGET_MB else "OVER"
        code = "" if self.code is None else f" exit {self.code}"
        reads = (
            f"  reads {self.reads.get('reads', 0):>4} (user pages {self.reads.get('user_pages', 0)}, "
            f"roles {self.reads.get('role_reads', 0)})"
            if self.reads
            else ""
        )
        return (
            f"{self.users:>7,}  {self.what:<28} peak {self.peak_mb:7.1f} MB {flag}  "
            f"{self.wall:6.1f} s{code}{reads}"
        )


def _target(info: dict[str, str], state: Path, time_scale: float) -> list[str]:
    return [
        "--graph-url",
        info["url"],
        "--authority",
        info["authority"],
        "--state-dir",
        str(state),
        "--time-scale",
        str(time_scale),
        "--poll-interval",
        "0.5",
        "--no-token-cache",
    ]


def run_command(argv: list[str], token: str) -> tuple[int, float, float]:
    """``closeout argv`` in a process of its own; (exit code, peak RSS MB, wall seconds)."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CLOSEOUT_ACCESS_TOKEN": token,
        "XDG_RUNTIME_DIR": tempfile.mkdtemp(prefix="closeout-bench-run-"),
    }
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if proc.stderr is not None:
        err = proc.stderr.read().decode(errors="replace").strip()
        proc.stderr.close()
        if code not in (0, 3) and err:
            print(f"    ({' '.join(argv[:2])}: exit {code}: {err.splitlines()[-1]})", flush=True)
    return code, usage.ru_maxrss / 1024, wall


def headless(users: int, args: argparse.Namespace, only: set[str]) -> list[Figure]:
    figures: list[Figure] = []
    sandbox = start_sandbox_process(users, args.time_scale, args.seed)
    try:
        info = sandbox.info
        sandbox.ask("reads")
        with tempfile.TemporaryDirectory(prefix="closeout-bench-mem-") as state:
            target = _target(info, Path(state), args.time_scale)
            commands = [
                ("plan", "plan", ["plan"]),
                ("plan-json", "plan --json", ["plan", "--json"]),
                ("status", "status", ["status"]),
                (
                    "run",
                    "run --headless (deleting)",
                    ["run", "--headless", "--yes", "--no-wait", "--json"],
                ),
                ("export", "export (every run)", ["export"]),
            ]
            for key, label, argv in commands:
                if key not in only:
                    continue
                code, peak, wall = run_command([*argv, *target], info["token"])
                figures.append(Figure(users, label, peak, wall, sandbox.ask("reads"), code))
                print(figures[-1].line(), flush=True)
    finally:
        sandbox.close()
    return figures


def tui(users: int, args: argparse.Namespace) -> list[Figure]:
    sandbox = start_sandbox_process(users, args.time_scale, args.seed)
    try:
        sandbox.ask("reads")
        with tempfile.TemporaryDirectory(prefix="closeout-bench-mem-") as state:
            child = {
                "info": sandbox.info,
                "users": users,
                "time_scale": args.time_scale,
                "state": state,
            }
            env = {
                **os.environ,
                "PYTHONPATH": str(ROOT),
                "XDG_RUNTIME_DIR": tempfile.mkdtemp(prefix="closeout-bench-run-"),
            }
            started = time.monotonic()
            proc = subprocess.Popen(
                [sys.executable, "-m", "scripts.bench_memory", "--tui-child", json.dumps(child)],
                stdout=subprocess.PIPE,
                cwd=ROOT,
                env=env,
                text=True,
            )
            assert proc.stdout is not None
            out = proc.stdout.read()
            os.waitpid(proc.pid, 0)
            wall = time.monotonic() - started
        phases = json.loads(out.strip().splitlines()[-1])
    finally:
        sandbox.close()
    figures = [
        Figure(users, "TUI loaded (RSS then)", phases["loaded_rss"], phases["loaded_at"], {}),
        Figure(users, "TUI loading (peak)", phases["loading_peak"], phases["loaded_at"], {}),
        Figure(users, "TUI running step 1 (peak)", phases["running_peak"], phases["ran"], {}),
        Figure(users, "TUI quit + evidence (peak)", phases["quit_peak"], phases["quit"], {}),
        # The kernel's peak is reset with each phase's (clear_refs), so the whole run's is
        # the largest phase peak.
        Figure(
            users,
            "TUI whole process (peak)",
            max(phases["loading_peak"], phases["running_peak"], phases["quit_peak"]),
            wall,
            {},
        ),
    ]
    for figure in figures:
        print(figure.line(), flush=True)
    return figures


# -- the TUI, in a process of its own ---------------------------------------------------------


def _status_kb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    # Linux: "5" resets VmHWM to the current RSS, so the next peak is this phase's alone.
    Path("/proc/self/clear_refs").write_text("5")


def tui_child(config: dict[str, Any]) -> None:
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    from app.closeout_app import CloseoutApp
    from scripts.bench_tui import start_step_1, wait_loaded

    options = session_options(config["info"], config["time_scale"], Path(config["state"]))
    app = CloseoutApp(options, watch=False)
    phases: dict[str, float] = {}

    async def drive() -> None:
        started = time.monotonic()
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_loaded(app, pilot, config["users"])
            await pilot.pause(0.5)
            phases["loaded_at"] = time.monotonic() - started
            phases["loaded_rss"] = _status_kb("VmRSS")
            phases["loading_peak"] = _status_kb("VmHWM")
            _reset_peak()
            began = time.monotonic()
            await start_step_1(app, pilot)
            while app.step_running is not None:
                await asyncio.sleep(0.1)
            await pilot.pause(0.5)
            phases["ran"] = time.monotonic() - began
            phases["running_peak"] = _status_kb("VmHWM")
            _reset_peak()
            began = time.monotonic()
            await pilot.press("q")  # the app finishes the run (its evidence pack) and exits
        phases["quit"] = time.monotonic() - began
        phases["quit_peak"] = _status_kb("VmHWM")

    try:
        asyncio.run(drive())
    finally:
        if app.session is not None:
            app.session.close()
    print(json.dumps(phases), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", default="10000,100000", help="sizes, comma-separated")
    parser.add_argument(
        "--only", default=",".join(COMMANDS), help=f"commands, of {','.join(COMMANDS)}"
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=100.0,
        help="sandbox clock speed (a 150-s write window passes in 150/scale real s)",
    )
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--tui-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(json.loads(args.serve))
        return
    if args.tui_child:
        tui_child(json.loads(args.tui_child))
        return
    only = {c.strip() for c in args.only.split(",") if c.strip()}
    unknown = only - set(COMMANDS)
    if unknown:
        parser.error(f"unknown commands: {', '.join(sorted(unknown))}")
    sizes = [int(s.replace("_", "").replace(",", "")) for s in args.users.split(",") if s.strip()]
    print(
        f"peak RSS of the closeout process (sandbox in another process); target "
        f"{TARGET_MB:g} MB at 100,000 users; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    for users in sizes:
        headless(users, args, only)
        if "tui" in only:
            tui(users, args)


if __name__ == "__main__":
    main()
