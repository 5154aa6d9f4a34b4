"""Headless use of the sandbox is easy: ``sandbox serve --help`` explains every option, its
"Then:" hint prints the exact commands at its time scale, and ``sandbox portal`` plays the admin
centers' part (as ``A`` does in the TUI) on a sandbox served elsewhere, through the sandbox-only
control endpoints, which only that command calls."""

from __future__ import annotations

import argparse
import json
import re
import shlex
import threading
import time
from pathlib import Path

import pytest

from app.cli.parser import build_parser
from services.sandbox.portal import HttpPortal, PortalPlayer
from tests.support.cli_harness import FAST, LineTap, run_cli, target_args
from tests.support.commands import serving


def _subparser(parser: argparse.ArgumentParser, *names: str) -> argparse.ArgumentParser:
    for name in names:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return parser


@pytest.mark.parametrize("command", ["serve", "portal"])
def test_sandbox_help_explains_every_option(command: str) -> None:
    parser = _subparser(build_parser(), "sandbox", command)
    assert parser.description and len(parser.description) > 80
    for action in parser._actions:
        if action.dest == "help":
            continue
        assert action.help and len(action.help) >= 15, (action.option_strings, action.help)
    text = parser.format_help()
    assert "Ctrl-C" in text if command == "serve" else "step5" in text


def _then(out: str) -> dict[str, list[str]]:
    """The commands the banner prints after "Then", by their second word."""
    tail = out.split("Then", 1)[1]
    commands = [
        shlex.split(line.strip())
        for line in tail.splitlines()
        if line.strip().startswith("closeout")
    ]
    return {c[1] if c[1] != "--graph-url" else "tui": c for c in commands}


def test_then_prints_the_exact_commands_and_they_close_the_tenant(
    tmp_path: Path, monkeypatch
) -> None:
    with serving("--users", "15", "--seed", "4", "--time-scale", "150000") as (
        out,
        base,
        domain,
        token,
    ):
        then = _then(out)
        assert set(then) == {"plan", "run", "sandbox", "tui"}, out
        for name in ("plan", "run", "tui"):
            argv = then[name]
            assert argv[argv.index("--time-scale") + 1] == "150000"
            assert argv[argv.index("--graph-url") + 1] == base
        assert then["run"][then["run"].index("--confirm-domain") + 1] == domain
        assert then["sandbox"] == ["closeout", "sandbox", "portal", "all", "--url", base]

        local = ["--state-dir", str(tmp_path), "--no-token-cache"]
        plan = run_cli([*then["plan"][1:], *local], monkeypatch=monkeypatch, token=token)
        assert plan.code == 0, plan.text

        # The headless run as printed waits for the admin centers; the admin, in another
        # terminal, runs the printed portal command whenever the run says it waits for them.
        tap = LineTap()
        stop = threading.Event()
        played: list[str] = []

        def admin() -> None:
            # Like a person: each step's part only once the run has handed that step over
            # (a "Delete tenant" before step 5's cleanup is done would cut it short).
            while not stop.wait(0.2):
                handed = {
                    o["step"]
                    for line in tap.lines()
                    if line.startswith("{")
                    for o in [json.loads(line)]
                    if o.get("event") == "handoff"
                }
                for step in sorted(handed):
                    played.extend(run_portal(then["sandbox"][3:], step))

        def run_portal(argv: list[str], step: int) -> list[str]:
            http = HttpPortal(argv[argv.index("--url") + 1])
            try:
                return PortalPlayer(http).play(step)
            finally:
                http.close()

        person = threading.Thread(target=admin, daemon=True)
        person.start()
        try:
            r = run_cli(
                [*then["run"][1:], "--json", *local], monkeypatch=monkeypatch, token=token, tap=tap
            )
        finally:
            stop.set()
            person.join(10)
        assert r.code == 0, r.text[-3000:]
        assert any(p.startswith("cancelled") for p in played), played
        assert "deleted the tenant" in played


def test_portal_command_plays_each_step_on_a_served_sandbox(
    make_sandbox, tmp_path: Path, monkeypatch
) -> None:
    sb = make_sandbox(users=12, seed=6, synced_fraction=0, time_scale=FAST)
    token = sb.issue_token()
    run = ["run", "--headless", "--yes", "--no-wait", *target_args(sb, tmp_path)]
    first = run_cli(run, monkeypatch=monkeypatch, token=token)
    assert first.code == 3, first.text
    active = [s for s in sb.tenant.subscriptions.values() if s.status in ("Enabled", "Warning")]
    assert active

    state = run_cli(
        ["sandbox", "portal", "state", "--url", sb.base_url], monkeypatch=monkeypatch, token=""
    )
    assert state.code == 0, state.text
    assert sb.initial_domain in state.out and "Enabled" in state.out
    assert "Delete tenant:" in state.out

    step2 = run_cli(
        ["sandbox", "portal", "step2", "--url", sb.base_url], monkeypatch=monkeypatch, token=""
    )
    assert step2.code == 0, step2.text
    assert step2.out.count("cancelled") == len([s for s in active if not s.self_service])
    cancelled = {e.detail["id"] for e in sb.recorder.events("subscription-cancelled")}
    assert cancelled == {s.id for s in active if not s.self_service}
    again = run_cli(
        ["sandbox", "portal", "step2", "--url", sb.base_url], monkeypatch=monkeypatch, token=""
    )
    assert again.code == 0 and "Nothing to do" in again.out

    second = run_cli(run, monkeypatch=monkeypatch, token=token)
    assert second.code == 3, second.text
    assert re.search(r"step 2 .*: done", second.out), second.out


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://graph.microsoft.com", "not a sandbox on loopback"),
        ("http://10.0.0.1:8080", "not a sandbox on loopback"),
        ("http://127.0.0.1:9", "No sandbox answers at http://127.0.0.1:9"),
    ],
)
def test_portal_command_reaches_nothing_but_a_sandbox_on_loopback(
    monkeypatch, url: str, message: str
) -> None:
    start = time.monotonic()
    r = run_cli(["sandbox", "portal", "all", "--url", url], monkeypatch=monkeypatch, token="")
    assert r.code == 2, r.text
    assert message in r.err and "Traceback" not in r.text
    assert time.monotonic() - start < 60  # a hang guard: the answer is the exit and its line
