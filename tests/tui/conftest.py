"""Fixtures for the app's Pilot tests: the real ``CloseoutApp`` on a small seeded demo sandbox.

Everything runs through the real Session, GraphClient and engine over loopback HTTP. To keep
the suite fast, most apps skip the device-code round trip (msal polls at most once a second):
the session is handed a sandbox-issued token instead, which is what ``CLOSEOUT_ACCESS_TOKEN``
does outside the demo. The sign-in tests use the real device code flow.

Waiting is always on state (``wait_for`` polls with ``pilot.pause``), never a bare sleep.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from textual.message import Message
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input

import services.sandbox
from app.closeout_app import CloseoutApp
from app.screens.main_screen import MainScreen
from services.auth.static_token import StaticTokenAuth
from services.sandbox import Sandbox, SandboxConfig
from services.session import Session, SessionOptions
from widgets import FittingFooter

FAST = 36_000.0
"""Simulated seconds per real second: 72 hours pass in about 7 s."""


@pytest.fixture(autouse=True)
def _no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    # A blinking cursor is a timer that keeps the app busy and makes screens differ by the
    # half second; the cursor simply stays visible.
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)


class DemoSessions:
    """A ``session_factory``: the real demo :class:`Session`, with sandbox settings a test
    chooses and, unless ``device_code``, already signed in."""

    def __init__(self, *, device_code: bool = False, **sandbox: Any) -> None:
        self.device_code = device_code
        self.sandbox_overrides = sandbox
        self.created: list[Session] = []

    def __call__(self, options: SessionOptions) -> Session:
        # Session builds its SandboxConfig from SessionOptions (users, seed, clock, auto
        # approval: those it passes itself win over anything given here); the few other knobs
        # a test needs (no synced users, no subscriptions…) are added here.
        config = functools.partial(SandboxConfig, **self.sandbox_overrides)
        with mock.patch.object(services.sandbox, "SandboxConfig", config):
            session = Session(options)
        self.created.append(session)
        if not self.device_code:
            session.auth = StaticTokenAuth(session.sandbox.issue_token())
        return session

    def close(self) -> None:
        for session in self.created:
            session.close()


AppFactory = Callable[..., CloseoutApp]


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[AppFactory]:
    """``make_app(users=40, ...)``: a CloseoutApp on a fresh demo sandbox, closed after the test.

    Keyword arguments other than the named ones go to :class:`SandboxConfig`.
    """
    factories: list[DemoSessions] = []

    def make(
        *,
        users: int = 40,
        seed: int = 7,
        time_scale: float = FAST,
        watch: bool = False,
        device_code: bool = False,
        auto_approve: float | None = 0.2,
        state_root: Path | None = None,
        fresh: bool = False,
        read_only: bool = False,
        session_factory: Callable[[SessionOptions], Session] | None = None,
        **sandbox: Any,
    ) -> CloseoutApp:
        sessions = DemoSessions(device_code=device_code, **sandbox)
        factories.append(sessions)
        options = SessionOptions(
            demo=True,
            demo_users=users,
            demo_seed=seed,
            demo_time_scale=time_scale,
            demo_auto_approve=auto_approve,
            state_root=state_root or tmp_path / "state",
            demo_fresh=fresh,
            read_only=read_only,
        )
        app = CloseoutApp(options, session_factory=session_factory or sessions, watch=watch)
        app.animation_level = "none"
        _record_toasts(app)
        return app

    yield make
    for sessions in factories:
        sessions.close()


# -- waiting and looking ---------------------------------------------------------------------


_TOASTS = "_tests_toasts_raised"


def _record_toasts(app: CloseoutApp) -> None:
    """Keep every toast ``app`` raises (title, message) for :func:`toasts`."""
    raised: list[tuple[str, str]] = []
    notify = app.notify

    def recording(message: str, *, title: str = "", **kwargs: Any) -> None:
        raised.append((title, str(message)))
        notify(message, title=title, **kwargs)

    app.notify = recording  # type: ignore[method-assign]
    setattr(app, _TOASTS, raised)


def toasts(app: CloseoutApp, *, title: str | None = None) -> list[str]:
    """The messages of every toast the app raised (with ``title``, if given), gone or not.

    Textual forgets a toast once its timeout (5-20 s of wall time) has passed: on a loaded
    machine one could go before the test reads it. An app not made by ``make_app`` has only
    the toasts still shown."""
    raised: list[tuple[str, str]] | None = getattr(app, _TOASTS, None)
    if raised is None:
        shown = app._notifications  # type: ignore[attr-defined]
        raised = [(n.title, str(n.message)) for n in shown]
    return [message for said, message in raised if title is None or said == title]


# How many times its nominal timeout ``wait_for`` waits before it calls a condition missed.
PATIENCE = 4


async def wait_for(
    pilot: Pilot[Any], predicate: Callable[[], object], what: str, timeout: float = 15.0
) -> None:
    """Poll ``predicate`` between short pauses until it holds; fail after ``timeout`` s.

    The timeout is stretched by ``PATIENCE``: it only guards against a hang (the condition is
    what the test asserts), and on a loaded 2-core machine (CI, several suites side by side,
    pytest-xdist workers) connecting alone has taken longer than 15 s. A test that holds
    returns as soon as its condition does, so the stretch costs nothing when it passes.
    """
    timeout *= PATIENCE
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(0.05)


def shows(app: Any, kind: type[Screen[Any]]) -> bool:
    """True once the top screen is a ``kind`` and mounted (its widgets are there to query)."""
    return isinstance(app.screen, kind) and app.screen.is_mounted


async def connected(pilot: Pilot[Any], *, top: type[Screen[Any]] = MainScreen) -> CloseoutApp:
    """Wait until the app is signed in, connected and shows ``top``."""
    app = pilot.app
    assert isinstance(app, CloseoutApp)
    await wait_for(
        pilot,
        lambda: app.engine is not None and shows(app, top),
        f"the app to connect and show {top.__name__}",
    )
    return app


def sandbox_of(app: CloseoutApp) -> Sandbox:
    assert app.session is not None and app.session.sandbox is not None
    sandbox: Sandbox = app.session.sandbox
    return sandbox


def footer_keys(screen: Screen[Any]) -> dict[str, Widget]:
    """The footer's keys by action name (a key hidden by ``check_action`` is absent).

    Found by their type's name: ``FooterKey`` is not public (textual.widgets._footer)."""
    keys: Iterable[Any] = screen.query_one(Footer).query("FooterKey")
    return {key.action: key for key in keys}


async def footer_shows(
    pilot: Pilot[Any],
    screen: Screen[Any],
    action: str,
    *,
    enabled: bool | None,
    if_it_fits: bool = False,
) -> None:
    """Wait until the footer (which recomposes after a bindings refresh) shows ``action``
    enabled (True), greyed out (False) or not at all (None). ``if_it_fits``: a key the footer
    leaves out at its latest layout (narrow terminals) passes too: which keys fit changes as
    the footer recomposes, so it is judged then, not from an earlier layout."""

    def shown() -> bool:
        if if_it_fits and action in screen.query_one(FittingFooter).dropped:
            return True
        key = footer_keys(screen).get(action)
        if enabled is None:
            return key is None
        return key is not None and key.has_class("-disabled") != enabled

    state = {True: "enabled", False: "greyed out", None: "hidden"}[enabled]
    await wait_for(pilot, shown, f"the footer to show {action} {state}")


class MessageLog:
    """A ``message_hook`` that keeps each message once (the hook sees a message at every node
    it is dispatched to)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._seen: set[int] = set()

    def __call__(self, message: Message) -> None:
        if id(message) not in self._seen:
            self._seen.add(id(message))
            self.messages.append(message)

    def of(self, kind: type[Message]) -> list[Any]:
        return [m for m in self.messages if isinstance(m, kind)]

    def clear(self) -> None:
        self.messages.clear()
        self._seen.clear()
