"""The screens' view of the app is :class:`app.controller.Controller`: the app provides every
member of it, with the same parameters (import-linter checks that no screen imports the app)."""

from __future__ import annotations

import inspect

from app.closeout_app import CloseoutApp
from app.controller import Controller
from services.session import SessionOptions


def _members() -> list[str]:
    return [name for name in vars(Controller) if not name.startswith("_")]


def test_the_app_provides_every_member_of_the_controller() -> None:
    app = CloseoutApp(SessionOptions(), watch=False)
    missing = [name for name in _members() if not hasattr(app, name)]
    assert not missing
    # Every method the protocol names is a method of the app with the same parameters.
    for name in _members():
        wanted = vars(Controller)[name]
        if not inspect.isfunction(wanted):
            continue
        got = getattr(CloseoutApp, name)
        assert inspect.isfunction(got), name
        assert list(inspect.signature(got).parameters) == list(
            inspect.signature(wanted).parameters
        ), name
        assert inspect.iscoroutinefunction(got) == inspect.iscoroutinefunction(wanted), name
