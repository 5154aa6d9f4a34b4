"""One home for the exit codes (services/exit_codes.py): every code is documented in --help, and
each kind of error maps to the code the CLI, the headless run and the TUI all end with."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli.command import UsageError
from services.deletion_evidence import TenantGone, TokenRejected
from services.errors import AuthError, CloseoutError, GraphError, NetworkError
from services.exit_codes import ExitCode, exit_code_for, exit_codes_help
from services.i18n import set_language
from services.locks import TenantLocked
from services.tenant_match import TenantMismatch


def test_every_code_is_documented_once_in_each_language() -> None:
    try:
        for lang in ("en", "sv"):
            set_language(lang)
            text = exit_codes_help()
            for code in ExitCode:
                assert text.count(f"\n  {int(code)}  ") == 1, (lang, code)
    finally:
        set_language("en")


def test_the_numbers_scripts_rely_on_do_not_move() -> None:
    assert {c.name: int(c) for c in ExitCode} == {
        "DONE": 0,
        "USAGE": 2,
        "WAITING": 3,
        "FAILED": 4,
        "AUTH": 5,
        "BUSY": 6,
    }


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (TenantGone("t-1"), ExitCode.DONE),
        (TenantLocked("t-1", None, Path("/run/lock")), ExitCode.BUSY),
        (AuthError("no"), ExitCode.AUTH),
        (TenantMismatch("a.example", "t-1", "b.onmicrosoft.com", "B"), ExitCode.AUTH),
        (
            TokenRejected(
                GraphError(401, "InvalidAuthenticationToken", "bad"), bring_your_own=True
            ),
            ExitCode.AUTH,
        ),
        (GraphError(403, "Authorization_RequestDenied", "no"), ExitCode.AUTH),
        (GraphError(401, "InvalidAuthenticationToken", "no"), ExitCode.AUTH),
        (GraphError(500, "generalException", "oops"), ExitCode.FAILED),
        (NetworkError("GET", "/users", ConnectionError("reset")), ExitCode.FAILED),
        (KeyboardInterrupt(), ExitCode.WAITING),
        (UsageError("bad options"), ExitCode.USAGE),
        (CloseoutError("bad config"), ExitCode.USAGE),
    ],
)
def test_each_error_ends_with_its_code(error: BaseException, code: ExitCode) -> None:
    assert exit_code_for(error) is code
