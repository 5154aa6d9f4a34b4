"""News when a wait ends (``--notify COMMAND_OR_URL``) and the headless heartbeat: the news
reaches a real loopback receiver or a real command, says what happened in a short JSON body
without secrets, and never holds the run up."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import services.headless.drive
from services.control import RunControl
from services.headless.heartbeat import Heartbeat
from services.headless.report import Reporter
from services.notify import NewsBody, Notifier, parse_target
from tests.support.cli_harness import (
    FAST,
    LineTap,
    close_with_portal,
    full_run_args,
    run_cli,
    target_args,
)

BODY_KEYS = set(NewsBody.__annotations__)


class Receiver:
    """An HTTP endpoint on loopback that records what is POSTed to it; ``gated``: it takes
    each POST in and answers only once the test opens its ``gate``."""

    def __init__(self, *, status: int = 204, gated: bool = False) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.gate = threading.Event()
        if not gated:
            self.gate.set()
        self.arrived = threading.Semaphore(0)
        self.answered = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers["Content-Length"]))
                outer.arrived.release()
                outer.gate.wait(60)
                outer.raw.append(data)
                outer.headers.append(dict(self.headers))
                outer.bodies.append(json.loads(data))
                outer.answered += 1
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?topic=closeout"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def quiet(make_sandbox):
    """A small tenant with nothing to hand off: a run goes straight to its end."""
    return make_sandbox(users=8, seed=3, synced_fraction=0, subscriptions="none", time_scale=FAST)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_a_close_out_sends_news_when_handoffs_are_seen_waits_end_and_it_is_done(
    make_sandbox, tmp_path: Path, monkeypatch, receiver: Receiver
) -> None:
    sb = make_sandbox(users=25, seed=5, time_scale=FAST)
    argv = [*full_run_args(sb, tmp_path / "state"), "--notify", receiver.url]
    token = sb.issue_token()
    r, human = close_with_portal(sb, argv, monkeypatch=monkeypatch, token=token)
    assert r.code == 0, r.text[-3000:]
    assert not human.errors, human.errors

    news = receiver.bodies
    assert news, r.text[-3000:]
    for body in news:
        assert set(body) == BODY_KEYS, body
        assert body["tenant"] == sb.initial_domain
    events = [b["event"] for b in news]
    # The admin cancelled and deleted subscriptions in the portal: the watch saw it.
    seen = [b for b in news if b["event"] == "handoff-detected"]
    assert {b["step"] for b in seen} >= {2, 3}, events
    assert any("(was " in b["message"] for b in seen)
    # Steps that waited on the admin or on time moved on.
    assert {b["step"] for b in news if b["event"] == "wait-ended"} >= {2, 3}, events
    assert events[-1] == "done" and news[-1]["exit"] == 0
    assert "failed" not in events
    # No secret leaves: the token is in none of the bodies nor the headers.
    assert not [raw for raw in receiver.raw if token.encode() in raw]
    assert not [h for h in receiver.headers if "Authorization" in h or token in str(h)]
    assert all(h["Content-Type"].startswith("application/json") for h in receiver.headers)


def _recorder_script(tmp_path: Path) -> Path:
    script = tmp_path / "record.py"
    script.write_text(
        "import json, os, sys\n"
        "out = sys.argv[1]\n"
        "body = sys.stdin.read()\n"
        "with open(out, 'a') as f:\n"
        "    f.write(json.dumps({'argv': sys.argv[2:], 'body': json.loads(body),\n"
        "        'env': {k: v for k, v in os.environ.items() if k.startswith('CLOSEOUT')}}) + '\\n')\n"
    )
    return script


def test_a_failed_run_runs_the_command_without_a_shell_and_without_secrets(
    quiet, tmp_path: Path, monkeypatch
) -> None:
    sb = quiet
    out = tmp_path / "news.jsonl"
    canary = tmp_path / "pwned"
    command = f"{sys.executable} {_recorder_script(tmp_path)} {out} '$HOME; touch {canary}'"
    token = sb.issue_token()
    r = run_cli(
        [
            "run",
            "--headless",
            "--yes",
            "--confirm-domain",
            "wrong.onmicrosoft.com",
            "--notify",
            command,
            *target_args(sb, tmp_path),
        ],
        monkeypatch=monkeypatch,
        token=token,
    )
    assert r.code == 2, r.text
    (call,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert call["argv"] == [f"$HOME; touch {canary}"]  # no shell expanded or split it
    assert not canary.exists()
    assert call["body"]["event"] == "failed" and call["body"]["exit"] == 2
    assert "does not match the initial domain" in call["body"]["message"]
    assert call["env"]["CLOSEOUT_EVENT"] == "failed"
    assert "CLOSEOUT_ACCESS_TOKEN" not in call["env"]
    assert token not in out.read_text()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("no-such-command-for-closeout --x", "no command no-such-command-for-closeout"),
        ("https://admin:hunter2@hooks.example/x", "user name or password"),
        ("http:///x", "the URL has no host"),
        ("notify-send 'unclosed", "cannot split it"),
        ("   ", "needs a command or an http(s) URL"),
    ],
)
@pytest.mark.parametrize("command", [["run", "--headless", "--yes"], []], ids=["run", "tui"])
def test_a_notify_target_that_cannot_work_is_refused_before_signing_in(
    quiet, tmp_path, monkeypatch, value: str, message: str, command: list[str]
) -> None:
    # Headless, and the TUI before any screen opens.
    sb = quiet
    r = run_cli(
        [*command, "--notify", value, *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 2, r.text
    assert message in r.err and "Traceback" not in r.text
    assert "hunter2" not in r.text
    assert sb.recorder.records() == []


def test_a_failing_target_is_one_warning_and_the_run_goes_on(quiet, tmp_path, monkeypatch) -> None:
    sb = quiet
    broken = Receiver(status=500)
    try:
        r = run_cli(
            [
                "run",
                "--headless",
                "--yes",
                "--json",
                "--confirm-domain",
                "wrong.onmicrosoft.com",
                "--notify",
                broken.url,
                *target_args(sb, tmp_path),
            ],
            monkeypatch=monkeypatch,
            token=sb.issue_token(),
        )
    finally:
        broken.close()
    assert r.code == 2, r.text
    assert len(broken.bodies) == 1  # the failure was POSTed, and answered 500
    warnings = [o for o in r.json_lines() if o["event"] == "note" and "--notify" in o["message"]]
    assert len(warnings) == 1 and "HTTP 500" in warnings[0]["message"]
    # A webhook's path and query are often its secret: the warning names only the host.
    assert "topic=closeout" not in r.text and "/hook" not in r.text
    assert f"127.0.0.1:{broken.server.server_address[1]}" in warnings[0]["message"]


def test_a_slow_target_never_holds_the_run_up() -> None:
    # The target takes the news in and never answers while the run goes on: sending and
    # closing return all the same (had either waited for the answer, it would wait a minute).
    slow = Receiver(gated=True)
    errors: list[str] = []
    try:
        notifier = Notifier(parse_target(slow.url), on_error=errors.append, timeout=60)
        body = NewsBody(event="wait-ended", time="", tenant="t", step=2, message="m", exit=None)
        for _ in range(5):
            notifier.send(body)  # queued, not sent, on the run's thread
        assert slow.arrived.acquire(timeout=30)  # the first went out on the notifier's thread
        assert errors == [] and slow.answered == 0
        notifier.close(timeout=0.1)
        assert slow.answered == 0  # closing did not wait for the target's answer
    finally:
        slow.close()


def test_a_target_that_does_not_answer_in_time_is_said_once_without_its_secret() -> None:
    slow = Receiver(gated=True)
    errors: list[str] = []
    try:
        notifier = Notifier(parse_target(slow.url), on_error=errors.append, timeout=0.2)
        body = NewsBody(event="wait-ended", time="", tenant="t", step=2, message="m", exit=None)
        for _ in range(3):
            notifier.send(body)
        notifier.close(timeout=60)  # each of the three times out, one after the other
    finally:
        slow.close()
    assert len(errors) == 1 and "no answer within 0.2 s" in errors[0], errors
    assert "topic" not in errors[0]


# -- the heartbeat ---------------------------------------------------------------------------


class Simulated(RunControl):
    """A run control whose waits pass on a simulated clock, not in real time."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float, waiting: Any = None) -> bool:
        if not self.stopped:
            self.now += max(seconds, 0.0)
        return self.stopped


def test_the_heartbeat_beats_on_time_across_polls() -> None:
    out = io.StringIO()
    control = Simulated()
    beat = Heartbeat(Reporter(out, json_mode=True), every=0.2, clock=control.clock)
    # Five polls of 0.15 s: one wait of 0.75 s, with a beat every 0.2 s across them.
    for _ in range(5):
        assert not beat.wait(control, 0.15, [2, 3])
    beats = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [b["event"] for b in beats] == ["heartbeat"] * 3, beats
    assert all(b["steps"] == [2, 3] for b in beats)
    assert control.now == pytest.approx(0.75)
    # After the run acted, the next wait counts afresh: its first beat a whole period on.
    beat.reset()
    assert not beat.wait(control, 0.19, [4])
    assert len(out.getvalue().splitlines()) == 3


def test_the_heartbeat_stops_at_once() -> None:
    beat = Heartbeat(Reporter(io.StringIO(), json_mode=True), every=0.2)
    control = RunControl()
    stopped: list[bool] = []
    waiter = threading.Thread(target=lambda: stopped.append(beat.wait(control, 600, [2])))
    waiter.start()
    control.stop()
    waiter.join(60)  # well short of the 600 s it would wait if the stop were missed
    assert stopped == [True]


def test_a_waiting_headless_run_prints_a_heartbeat(make_sandbox, tmp_path, monkeypatch) -> None:
    # Nobody cancels the subscriptions: the run waits for the admin, beating, until stopped.
    sb = make_sandbox(users=8, seed=3, synced_fraction=0, time_scale=FAST)
    monkeypatch.setattr(services.headless.drive, "HEARTBEAT", 0.3)
    tap = LineTap()

    def stop_after_two_beats() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if sum('"heartbeat"' in line for line in tap.lines()) >= 2:
                break
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    stopper = threading.Thread(target=stop_after_two_beats, daemon=True)
    stopper.start()
    r = run_cli(
        ["run", "--headless", "--yes", "--json", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
        tap=tap,
    )
    stopper.join(5)
    assert r.code == 3, r.text[-2000:]
    beats = [o for o in r.json_lines() if o["event"] == "heartbeat"]
    assert len(beats) >= 2, r.text[-2000:]
    assert 2 in beats[0]["steps"]
    assert beats[1]["waited_seconds"] >= 0 and beats[1]["next_read_seconds"] >= 0
    assert r.json_lines()[-1]["event"] == "exit"

