"""Benchmark: how fast closeout starts (issue 10: ``--help`` ≤ 150 ms, demo first paint ≤ 0.8 s).

Every figure is measured from outside, from the moment the process is spawned:

- ``closeout --help``: until the process has printed the help and exited;
- ``closeout --demo`` first paint: the app runs in a real pseudo-terminal (120×40), and the time
  is taken when the sign-in screen's title has reached the terminal (escape sequences stripped
  from the bytes the app wrote), i.e. what the admin sees, not an event inside the app;
- the same first paint for a minimal Textual app (one Static), the floor Textual itself sets,
  and ``python -c pass``, the interpreter's own start.

Prints median, min and max of each over ``--runs`` runs (interleaved, so that a change in the
machine's load affects every figure alike)::

    python -m scripts.bench_startup [--runs 10] [--only help|demo] [--checkout DIR ...]

``--checkout DIR`` (repeatable) also measures the closeout in another checkout (e.g. a
``git worktree`` of an older commit) side by side, with this interpreter and its packages.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import re
import select
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Callable
from pathlib import Path

MARKER = "Sign in as a Global Administrator"
MINIMAL_APP = f"""
from textual.app import App
from textual.widgets import Static

class Minimal(App[None]):
    def compose(self):
        yield Static({MARKER!r})

Minimal().run()
"""
# CSI (with private parameters), OSC (BEL or ST terminated) and two-byte escapes.
ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")


def closeout_command() -> list[str]:
    """The installed ``closeout`` entry point next to this interpreter, as an admin runs it."""
    script = Path(sys.executable).with_name("closeout")
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


Sample = tuple[float, float]
"""Wall seconds, and CPU seconds (user + system) the process used meanwhile: the second is
less at the mercy of other work on a shared machine."""


def reap(proc: subprocess.Popen[bytes]) -> float:
    """Wait for ``proc`` and return the CPU seconds it used (all its threads)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def time_to_exit(argv: list[str], env: dict[str, str], cwd: str | None = None) -> Sample:
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd
    )
    cpu = reap(proc)
    wall = time.perf_counter() - started
    if proc.returncode:
        raise RuntimeError(f"{argv} exited {proc.returncode}")
    return wall, cpu


def time_to_paint(
    argv: list[str], env: dict[str, str], cwd: str | None = None, timeout: float = 30.0
) -> Sample:
    """From spawn until MARKER is on the pseudo-terminal; the process is then stopped (its CPU
    figure is up to the stop, a few milliseconds later)."""
    primary, secondary = os.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    os.close(secondary)
    seen = b""
    painted: float | None = None
    try:
        while True:
            left = timeout - (time.perf_counter() - started)
            if left <= 0:
                raise TimeoutError(f"no first paint within {timeout:.0f} s: {argv}")
            ready, _, _ = select.select([primary], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the process ended and the terminal closed
                chunk = b""
            if not chunk:
                raise RuntimeError(f"{argv} ended before its first paint: {seen[-400:]!r}")
            seen += chunk
            if MARKER.encode() in ESCAPES.sub(b"", seen):
                painted = time.perf_counter() - started
                break
    finally:
        # SIGKILL: the figure is the first paint, not how long the app takes to shut down.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        cpu = reap(proc)
        os.close(primary)
    return painted, cpu


def summary(name: str, samples: list[Sample]) -> str:
    wall = [s[0] * 1000 for s in samples]
    cpu = [s[1] * 1000 for s in samples]
    return (
        f"{name:<40} wall median {statistics.median(wall):5.0f} ms "
        f"(min {min(wall):5.0f}, max {max(wall):5.0f})   "
        f"CPU median {statistics.median(cpu):5.0f} ms (min {min(cpu):5.0f})   {len(wall)} runs"
    )


def measure(runs: int, cases: list[tuple[str, Callable[[], Sample]]]) -> None:
    """Each case ``runs`` times, round-robin, after one warm-up run each (file cache,
    bytecode)."""
    for _, once in cases:
        once()
    samples: dict[str, list[Sample]] = {name: [] for name, _ in cases}
    for _ in range(runs):
        for name, once in cases:
            samples[name].append(once())
    for name, _ in cases:
        print(summary(name, samples[name]), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--only", choices=("help", "demo"))
    parser.add_argument("--checkout", action="append", default=[], type=Path, metavar="DIR")
    args = parser.parse_args()
    state = tempfile.mkdtemp(prefix="closeout-bench-startup-")
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "TEXTUAL_ANIMATIONS": "none",
        "XDG_STATE_HOME": state,
        "XDG_DATA_HOME": state,
    }
    # As installed: bytecode cached (the warm-up run writes what is missing).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # (label, command, environment, working directory) of each closeout measured.
    closeouts: list[tuple[str, list[str], dict[str, str], str | None]] = [
        ("closeout", closeout_command(), env, None)
    ]
    for tree in args.checkout:
        tree = tree.resolve()
        closeouts.append(
            (
                f"[{tree.name}]",
                [sys.executable, "-m", "app.cli"],
                {**env, "PYTHONPATH": str(tree)},
                str(tree),
            )
        )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    measure(
        args.runs, [("python -c pass", lambda: time_to_exit([sys.executable, "-c", "pass"], env))]
    )
    if args.only in (None, "help"):
        measure(
            args.runs,
            [
                (f"{label} --help", lambda c=cmd, e=e, d=d: time_to_exit([*c, "--help"], e, d))
                for label, cmd, e, d in closeouts
            ],
        )
    if args.only in (None, "demo"):
        minimal = [sys.executable, "-c", MINIMAL_APP]
        measure(
            args.runs,
            [("minimal Textual app, first paint", lambda: time_to_paint(minimal, env))]
            + [
                (
                    f"{label} --demo, first paint",
                    lambda c=cmd, e=e, d=d: time_to_paint([*c, "--demo", "--lang", "en"], e, d),
                )
                for label, cmd, e, d in closeouts
            ],
        )


if __name__ == "__main__":
    main()
