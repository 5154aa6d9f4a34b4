"""What makes the app's screenshots repeatable: a fixed seed, a frozen clock, no blinking.

Clocks are frozen where they reach the screen: the sandbox's simulated time starts at
``FIXED`` and runs a thousand times slower than real time (the ``Date`` Graph sends, and every
countdown computed from it, stays put), and the log panel, device code and handoff countdowns
read ``FIXED`` as "now". The sign-in screen gets a fixed device code from a stand-in session.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from textual.widgets import Input

import services.sandbox.clock
import widgets.device_code
import widgets.handoff_view
import widgets.log_panel
from app.closeout_app import CloseoutApp
from services.auth.device_code import DeviceCodePrompt
from services.control import RunControl
from services.session import SessionOptions
from tests.tui.conftest import DemoSessions

FIXED = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
SLOW_CLOCK = 0.001
"""Simulated seconds per real second: the sandbox's ``Date`` stays at ``FIXED`` for 15 min."""


class _FrozenDateTime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        # Naive "now" is FIXED's wall time, whatever the machine's time zone.
        return FIXED.astimezone(tz) if tz is not None else FIXED.replace(tzinfo=None)


@pytest.fixture(autouse=True)
def _deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in (
        services.sandbox.clock,
        widgets.log_panel,
        widgets.device_code,
        widgets.handoff_view,
    ):
        monkeypatch.setattr(module, "datetime", _FrozenDateTime)
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)


class WaitingForCode:
    """A session that has asked for a device code and waits for the admin to use it."""

    sandbox = None
    needs_device_code = True

    def __init__(self, options: SessionOptions) -> None:
        self.options = options
        self.auth = SimpleNamespace(signed_in=False)
        self.control = RunControl()  # as every Session has, from the start

    def start_device_code(self) -> DeviceCodePrompt:
        return DeviceCodePrompt(
            user_code="GH7KQ2TXM",
            verification_uri="https://microsoft.com/devicelogin",
            expires_at=FIXED + timedelta(minutes=15),
            message="To sign in, use a web browser to open the page "
            "https://microsoft.com/devicelogin and enter the code GH7KQ2TXM to authenticate.",
        )

    def wait_device_code(self, prompt: DeviceCodePrompt, stop: threading.Event) -> None:
        stop.wait()  # until the app exits (its worker is cancelled)

    def close(self) -> None:
        pass


@pytest.fixture
def snapshot_app(tmp_path: Path) -> Iterator[Callable[..., CloseoutApp]]:
    """``snapshot_app(users=40, **sandbox)``: the demo tenant (seed 7) on the slow clock."""
    made: list[DemoSessions] = []

    def make(*, users: int = 40, waiting_for_code: bool = False, **sandbox: Any) -> CloseoutApp:
        sessions = DemoSessions(**sandbox)
        made.append(sessions)
        options = SessionOptions(
            demo=True,
            demo_users=users,
            demo_seed=7,
            demo_time_scale=SLOW_CLOCK,
            demo_auto_approve=None,
            state_root=tmp_path / "state",
        )
        factory: Any = WaitingForCode if waiting_for_code else sessions
        app = CloseoutApp(options, session_factory=factory, watch=False)
        app.animation_level = "none"
        return app

    yield make
    for sessions in made:
        sessions.close()
