"""``closeout --help`` is instant: the parser is built from light modules only, and a command's
handler loads the engine, HTTP, sign-in and Textual when it runs (issue 10). Checked in a fresh
interpreter by what is loaded, not by a time (scripts/bench_startup.py prints the times)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import REPO

HEAVY = (
    "msal",
    "requests",
    "urllib3",
    "textual",
    "rich",
    "services.engine",
    "services.session",
    "services.graph",
    "services.headless",
    "services.sandbox",
    "app.closeout_app",
)


def loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint('loaded:', *[m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    return out.rstrip("\n").rpartition("loaded:")[2].split()


def test_building_the_parser_loads_no_engine_http_sign_in_or_textual() -> None:
    assert loaded_after("from app.cli import build_parser\nbuild_parser()") == []


@pytest.mark.parametrize(
    ("argv", "allowed"),
    [
        (["--help"], []),
        (["run", "--help"], []),
        (["--lang", "sv", "status", "--help"], []),
        # Its help lists the sandbox's behaviours, which the sandbox package defines.
        (["sandbox", "serve", "-h"], ["services.sandbox"]),
    ],
)
def test_help_loads_no_engine_http_sign_in_or_textual(argv: list[str], allowed: list[str]) -> None:
    code = (
        "from app.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    assert loaded_after(code) == allowed


def test_the_probe_sees_what_a_command_loads() -> None:
    # The check above could pass by looking in the wrong place: a command that connects does
    # load the engine, in the same kind of fresh interpreter.
    loaded = loaded_after("from app.cli.commands.plan import run\nimport services.session")
    assert "services.session" in loaded and "requests" in loaded
