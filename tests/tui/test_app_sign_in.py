"""The sign-in screen with the real device code flow against the demo sandbox: the code and
link shown and copyable, approval continuing by itself, and errors explained with a retry."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Static

from app.screens.main_screen import MainScreen
from app.screens.sign_in import SignInScreen
from services.errors import AuthError
from services.sandbox.identity.provider import approve_device_code, deny_device_code
from services.session import Session, SessionOptions
from widgets import DeviceCodePanel

from .conftest import AppFactory, connected, footer_shows, sandbox_of, shows, wait_for


def _status(screen: SignInScreen) -> Static:
    return screen.query_one("#sign-in-status", Static)


async def test_device_code_is_shown_copied_and_sign_in_continues(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(device_code=True, auto_approve=None)
    copied: list[str] = []
    monkeypatch.setattr(app, "copy_to_clipboard", copied.append)
    async with app.run_test() as pilot:
        await wait_for(
            pilot,
            lambda: shows(app, SignInScreen) and app.screen.prompt is not None,
            "a device code",
        )
        screen = app.screen
        assert isinstance(screen, SignInScreen)
        sandbox = sandbox_of(app)
        panel = screen.query_one(DeviceCodePanel)
        prompt = screen.prompt
        assert prompt is not None and panel.display
        assert panel.user_code == prompt.user_code
        assert panel.verification_uri == prompt.verification_uri
        assert prompt.verification_uri.startswith(sandbox.base_url)
        assert "expires in 1" in panel.expiry_text  # 15 minutes, counting down

        await footer_shows(pilot, screen, "copy_code", enabled=True)
        await footer_shows(pilot, screen, "retry", enabled=False)  # nothing failed yet
        await pilot.press("c")
        await pilot.press("u")
        assert copied == [prompt.user_code, prompt.verification_uri]

        # The admin signs in elsewhere; the screen continues by itself.
        approve_device_code(sandbox, prompt.user_code)
        await connected(pilot)
        assert not any(isinstance(s, SignInScreen) for s in app.screen_stack)
        assert isinstance(app.screen, MainScreen)


async def test_declined_sign_in_is_explained_and_r_gets_a_new_code(make_app: AppFactory) -> None:
    app = make_app(device_code=True, auto_approve=None)
    async with app.run_test() as pilot:
        await wait_for(
            pilot,
            lambda: shows(app, SignInScreen) and app.screen.prompt is not None,
            "a device code",
        )
        screen = app.screen
        assert isinstance(screen, SignInScreen) and screen.prompt is not None
        first = screen.prompt.user_code
        deny_device_code(sandbox_of(app), first)
        await wait_for(pilot, lambda: screen.failed, "the refusal to be shown")
        status = _status(screen)
        assert status.has_class("error")
        assert "Press r for a new code" in str(status.content)
        await footer_shows(pilot, screen, "retry", enabled=True)

        await pilot.press("r")
        await wait_for(
            pilot,
            lambda: screen.prompt is not None and screen.prompt.user_code != first,
            "a new code",
        )
        assert not screen.failed and not status.has_class("error")
        assert screen.query_one(DeviceCodePanel).user_code == screen.prompt.user_code


class _RefusingAuth:
    """Stands in for a token source that Entra refuses (e.g. Conditional Access)."""

    def token(self) -> str:
        raise AuthError(
            "AADSTS53003: Access has been blocked by Conditional Access policies.",
            "Sign in from a compliant device, or ask for an exclusion.",
        )


async def test_auth_error_is_shown_on_the_sign_in_screen(make_app: AppFactory) -> None:
    def refusing(options: SessionOptions) -> Session:
        session = Session(options)
        session.auth = _RefusingAuth()
        made.append(session)
        return session

    made: list[Any] = []
    app = make_app(session_factory=refusing)
    try:
        async with app.run_test() as pilot:
            screen = app.screen
            assert isinstance(screen, SignInScreen)
            await wait_for(pilot, lambda: screen.failed, "the error to be shown")
            text = str(_status(screen).content)
            assert "blocked by Conditional Access" in text
            assert "compliant device" in text  # the hint
            assert app.engine is None
            await footer_shows(pilot, screen, "retry", enabled=True)
            await footer_shows(pilot, screen, "copy_code", enabled=False)  # no code to copy
            await pilot.press("q")  # nothing runs and nothing was read: quits at once
            await wait_for(pilot, lambda: app.return_code is not None, "q to quit")
        # Refused by Entra: 5, as ``closeout run`` exits on the same refusal.
        assert app.return_value == 5
    finally:
        for session in made:
            session.close()
