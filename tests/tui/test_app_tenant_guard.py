"""The TUI's connect path refuses a sign-in to another tenant than the one named (``--tenant``),
after the real device code flow against the demo sandbox: the sign-in screen names both
tenants, nothing is read beyond the organization, nothing is written, no folder is made, and
quitting exits 5. The tenant named by any of its names, in any case, connects. A token Graph
refuses is "rejected" there too, never a deleted tenant."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from app.closeout_app import CloseoutApp
from app.screens.sign_in import SignInScreen
from services.auth.static_token import StaticTokenAuth
from services.sandbox import Sandbox
from services.session import Session, SessionOptions
from tests.support.cli_harness import forged_token

from .conftest import AppFactory, DemoSessions, connected, sandbox_of, wait_for

Factory = Callable[[SessionOptions], Session]


@pytest.fixture
def demo_sessions() -> Iterator[Callable[..., DemoSessions]]:
    """``DemoSessions`` made by a test, closed after it (``make_app`` closes only its own)."""
    made: list[DemoSessions] = []

    def make(**kw: Any) -> DemoSessions:
        made.append(DemoSessions(**kw))
        return made[-1]

    yield make
    for sessions in made:
        sessions.close()


def naming(tenant_of: Callable[[Sandbox], str], sessions: DemoSessions) -> Factory:
    """Sessions whose options name a tenant (chosen once the demo sandbox exists)."""

    def factory(options: SessionOptions) -> Session:
        session = sessions(options)
        session.options = replace(session.options, tenant=tenant_of(session.sandbox))
        return session

    return factory


async def refusal(pilot: Pilot[Any], app: CloseoutApp) -> str:
    """The error the sign-in screen shows once the connect attempt was refused."""
    screen = app.screen
    assert isinstance(screen, SignInScreen)
    await wait_for(pilot, lambda: screen.failed, "the refusal to be shown")
    assert app.engine is None
    return str(screen.query_one("#sign-in-status", Static).content)


async def quit_app(pilot: Pilot[Any], app: CloseoutApp) -> None:
    await pilot.press("q")
    await wait_for(pilot, lambda: app.return_code is not None, "q to quit")


async def test_a_sign_in_to_another_tenant_is_refused_on_the_sign_in_screen(
    make_app: AppFactory, demo_sessions: Callable[..., DemoSessions], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    sessions = demo_sessions(device_code=True)
    app = make_app(
        state_root=state, session_factory=naming(lambda sb: "fabrikam.onmicrosoft.com", sessions)
    )
    async with app.run_test() as pilot:
        text = await refusal(pilot, app)
        sb = sandbox_of(app)
        assert "fabrikam.onmicrosoft.com" in text
        assert sb.tenant_id in text and sb.initial_domain in text
        assert [r.path for r in sb.recorder.records()] == ["/v1.0/organization"]
        assert not (state / "tenants").exists()
        await quit_app(pilot, app)
    assert app.return_value == 5


async def test_the_named_tenant_in_other_letter_case_connects(
    make_app: AppFactory, demo_sessions: Callable[..., DemoSessions]
) -> None:
    sessions = demo_sessions(device_code=True)
    app = make_app(session_factory=naming(lambda sb: sb.initial_domain.upper(), sessions))
    async with app.run_test() as pilot:
        await connected(pilot)
        assert app.engine is not None
        assert app.engine.caller.tenant.id == sandbox_of(app).tenant_id


async def test_a_rejected_token_is_not_a_deleted_tenant(
    make_app: AppFactory, demo_sessions: Callable[..., DemoSessions], tmp_path: Path
) -> None:
    """A token whose ``tid`` is no tenant the sandbox knows: refused, never "deleted"."""
    sessions = demo_sessions()

    def forged(options: SessionOptions) -> Session:
        session = sessions(options)
        session.auth = StaticTokenAuth(forged_token(session.sandbox, str(uuid.uuid4())))
        return session

    state = tmp_path / "state"
    app = make_app(state_root=state, session_factory=forged)
    async with app.run_test() as pilot:
        text = await refusal(pilot, app)
        assert "token was rejected" in text and "no longer exists" not in text
        assert not (state / "tenants").exists()
        await quit_app(pilot, app)
    assert app.return_value == 5
