"""Benchmark: how quickly the TUI stops a run and then quits (issue 12: quitting after a stop
takes under 2 s at 5,000 users).

The real app runs headless through Textual's Pilot on an in-process demo sandbox with Graph's
latency (``--latency-ms``, 150 by default); it starts step 1 (delete every user), presses ``s``
once ``--stop-after`` users are deleted, and ``q`` once the step has stopped. Prints, in real
seconds: from ``s`` until the step has stopped, from ``q`` until the app has exited (the run
ended in the journal and its evidence pack written), and the stop's summary line::

    python -m scripts.bench_stop_quit [--users 5000] [--stop-after 400] [--latency-ms 150]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import services.sandbox
from app.closeout_app import CloseoutApp
from app.screens.dialogs import ConfirmModal
from services.auth.static_token import StaticTokenAuth
from services.sandbox import SandboxConfig
from services.session import Session, SessionOptions


def _sessions(latency_ms: float) -> Callable[[SessionOptions], Session]:
    def make(options: SessionOptions) -> Session:
        config = functools.partial(SandboxConfig, synced_fraction=0.0, latency_ms=latency_ms)
        with mock.patch.object(services.sandbox, "SandboxConfig", config):
            session = Session(options)
        session.auth = StaticTokenAuth(session.sandbox.issue_token())
        return session

    return make


async def _until(pilot: Any, holds: Callable[[], object], limit: float = 600.0) -> None:
    deadline = time.monotonic() + limit
    while not holds():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        await pilot.pause(0.01)


async def measure(users: int, stop_after: int, latency_ms: float) -> dict[str, Any]:
    options = SessionOptions(
        demo=True,
        demo_users=users,
        demo_seed=20261,
        demo_time_scale=36_000.0,
        demo_auto_approve=0.2,
        state_root=Path(tempfile.mkdtemp(prefix="bench-stop-")),
    )
    app = CloseoutApp(options, session_factory=_sessions(latency_ms), watch=False)
    app.animation_level = "none"
    figures: dict[str, Any] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await _until(pilot, lambda: app.engine is not None and app.screen is app.main)
        sandbox = app.session.sandbox if app.session else None
        assert sandbox is not None

        def deleted() -> int:
            return len(sandbox.recorder.events("user-deleted"))

        await pilot.press("down", "r")
        await _until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await _until(pilot, lambda: deleted() >= stop_after)
        t0 = time.monotonic()
        await pilot.press("s")
        await _until(pilot, lambda: app.step_running is None)
        figures["stop_s"] = time.monotonic() - t0
        figures["deleted"] = deleted()
        figures["summary"] = next(
            (str(n.message) for n in app._notifications if "stopped" in str(n.message)), ""
        )
        calls = len(sandbox.recorder.records())
        t0 = time.monotonic()
        await pilot.press("q")
        await _until(pilot, lambda: app.return_code is not None)
        figures["quit_s"] = time.monotonic() - t0
        figures["quit_calls"] = [f"{r.method} {r.path}" for r in sandbox.recorder.records()[calls:]]
    if app.session is not None:
        app.session.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--stop-after", type=int, default=400)
    parser.add_argument("--latency-ms", type=float, default=150.0)
    args = parser.parse_args(argv)
    f = asyncio.run(measure(args.users, args.stop_after, args.latency_ms))
    print(f"users {args.users:,}, latency {args.latency_ms:g} ms, deleted {f['deleted']:,}")
    print(f"stop (s until the step stopped): {f['stop_s']:.2f} s")
    print(f"quit after the stop (q until exit): {f['quit_s']:.2f} s")
    print(f"Graph calls while quitting: {len(f['quit_calls'])} {f['quit_calls']}")
    print(f"summary: {f['summary']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
