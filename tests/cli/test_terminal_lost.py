"""The terminal going away mid-run (issue 9, item 7), on a real pty: the headless run and the TUI
stop between batches (no more than the batches in flight are answered after the terminal
closed), end the run in the journal and exit 3, without spinning the CPU in between.

Two ways a terminal goes: the pty is the process's controlling terminal, so closing it sends
SIGHUP (an SSH session dropping, ``tmux kill-session``); or it is not (a job started in the
background, a terminal emulator that just closes its side), so only the descriptors tell:
reads see end of file and writes fail with EIO. Before the fix the TUI went on at 60-70 % CPU
for as long as anyone watched (Textual's input thread spinning on empty reads, its writer dead
on EIO) and the headless run exited 1 with "Input/output error" while its journal said 3.

The sandbox runs in this process (so the child's CPU is its own) and slows every user DELETE,
so that a batch takes a while and the terminal closes mid-step.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli_harness import FAST, REPO, journal_records, target_args

EXIT_WITHIN = 60.0
"""Seconds the test waits for the child to exit at all (a hang guard: a loaded machine may take
many seconds over the batch in flight and the evidence pack); how it stopped is judged by counts."""
USERS = 1500
IN_FLIGHT = 8
"""Batches a step has in flight at once (the batch executor's concurrency)."""


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:  # noqa: PTH123 - a procfs read
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class PtyChild:
    """``closeout argv`` on a fresh pty; ``controlling`` makes it the child's controlling
    terminal (closing it then sends SIGHUP), else the child has none."""

    def __init__(self, argv: list[str], token: str, *, controlling: bool) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))

        def new_session() -> None:
            os.setsid()
            if controlling:
                fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COLUMNS", "LINES"))}
        env.update(CLOSEOUT_ACCESS_TOKEN=token, TERM="xterm-256color")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *argv],
            cwd=REPO,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            preexec_fn=new_session,  # setsid and TIOCSCTTY must run in the child
        )
        os.close(slave)
        self.output = b""

    def drain(self, seconds: float) -> None:
        """Read what the child writes for ``seconds`` (a pty left unread would block it)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:
                    return

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)
        self.drain(0.3)

    def until(self, predicate: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                tail = self.output[-1500:].decode(errors="replace")
                raise AssertionError(f"timed out waiting for {what}; the screen ended:\n{tail}")
            self.drain(0.05)

    def __enter__(self) -> PtyChild:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close_terminal(self) -> tuple[float, float, float]:
        """Close the pty's master and wait for the child: (seconds to exit, CPU seconds, when
        it was closed on ``time.monotonic``'s clock)."""
        cpu_before = _cpu_seconds(self.proc.pid)
        os.close(self.master)
        closed = time.monotonic()
        cpu = 0.0
        while self.proc.poll() is None and time.monotonic() - closed < EXIT_WITHIN:
            # Sampled while it lives: after it is reaped /proc has nothing to say.
            try:
                cpu = _cpu_seconds(self.proc.pid) - cpu_before
            except (OSError, IndexError):
                break
            time.sleep(0.05)
        return time.monotonic() - closed, cpu, closed


@pytest.fixture
def slow_tenant(make_sandbox: Any) -> Any:
    sb = make_sandbox(users=USERS, seed=71, synced_fraction=0.0, time_scale=FAST)
    sb.add_fault(method="DELETE", path=r"/users/[0-9a-f-]+$", status=None, delay=0.05, times=-1)
    return sb


SPIN_AFTER = 10.0
"""Seconds after the close past which a child still busy is spinning, not shutting down."""


def not_spinning(took: float, cpu: float) -> bool:
    """Whether a child that took ``took`` s to exit after its terminal closed, using ``cpu``
    CPU-seconds meanwhile, shut down rather than spun.

    Shutting down is real work (the batch in flight, the journal's end, the evidence pack): on
    a slow CI CPU it may keep a core busy for a few seconds (1.5 s of CPU in 2 s was seen), so
    a quick exit is never judged by its CPU. The bug this guards against kept a child at
    60-70 % of a core for as long as it lived; one alive past SPIN_AFTER must have been mostly
    idle. (A child that never exits fails on its return code, after EXIT_WITHIN.)
    """
    return took < SPIN_AFTER or cpu < 0.5 * took


def _deleted(sb: Any) -> int:
    return len(sb.recorder.events("user-deleted"))


def _batches_answered_after(sb: Any, closed: float) -> int:
    """``$batch``es the sandbox answered after the terminal closed (it records a request as it
    answers it, on ``time.monotonic``'s clock): those in flight, and any sent after."""
    return sum(
        1 for r in sb.recorder.records() if r.path.endswith("/$batch") and r.real_time > closed
    )


def _assert_run_ended(sb: Any, state: Path) -> None:
    records = journal_records(sb, state)
    starts = [r for r in records if r["kind"] == "run-start"]
    ends = [r for r in records if r["kind"] == "run-end"]
    assert len(starts) == 1, "the run did not start"
    assert [(e["run"], e["exit_code"]) for e in ends] == [(starts[0]["run"], 3)]
    # Nothing sent is left without its outcome, and what was never sent is one count.
    intents = {r["object"] for r in records if r["kind"] == "intent"}
    outcomes = {r["object"] for r in records if r["kind"] == "outcome"}
    assert intents <= outcomes
    assert [r["kind"] for r in records if r["kind"] == "not-sent"] == ["not-sent"]


@pytest.mark.parametrize("controlling", [True, False], ids=["sighup", "no-sighup"])
def test_headless_run_whose_terminal_closes_exits_3_and_ends_its_run(
    slow_tenant: Any, tmp_path: Path, controlling: bool
) -> None:
    sb, state = slow_tenant, tmp_path / "state"
    argv = ["run", "--headless", "--yes", *target_args(sb, state)]
    with PtyChild(argv, sb.issue_token(), controlling=controlling) as child:
        child.until(lambda: _deleted(sb) >= 40, 60, "the first deletions")
        took, cpu, closed = child.close_terminal()
    # Before: exit 1 ("Input/output error") while the journal's run-end said 3.
    assert child.proc.returncode == 3
    # It stopped between batches: only those in flight were answered after the close (a
    # loaded machine may take seconds over it; what it sent meanwhile is what counts).
    assert _batches_answered_after(sb, closed) <= IN_FLIGHT
    assert not_spinning(took, cpu), (took, cpu)
    assert _deleted(sb) < USERS - 1, "the run was not stopped"
    _assert_run_ended(sb, state)


@pytest.mark.parametrize("controlling", [True, False], ids=["sighup", "no-sighup"])
def test_tui_whose_terminal_closes_mid_step_exits_3_without_spinning(
    slow_tenant: Any, tmp_path: Path, controlling: bool
) -> None:
    sb, state = slow_tenant, tmp_path / "state"
    with PtyChild(target_args(sb, state), sb.issue_token(), controlling=controlling) as child:
        # Connected: the checklist is on screen.
        child.until(lambda: b"Delete users" in child.output, 60, "the main screen")
        child.drain(1.5)
        child.type(b"\x1b[B")  # step 1
        child.type(b"r")
        child.until(lambda: b"Delete 1,499 users?" in child.output, 60, "the confirmation")
        child.type(b"y")
        child.until(lambda: _deleted(sb) >= 40, 60, "the first deletions")
        took, cpu, closed = child.close_terminal()
    # Before: still running after 30 s, at 60-70 % of a core, the journal never ended.
    assert child.proc.returncode == 3
    assert _batches_answered_after(sb, closed) <= IN_FLIGHT
    # A batch in flight (a second or more with slow deletes) is waited for, the journal and
    # the evidence pack written: far from a core's worth of spinning.
    assert not_spinning(took, cpu), (took, cpu)
    assert _deleted(sb) < USERS - 1, "the step was not stopped"
    _assert_run_ended(sb, state)


async def test_a_read_error_on_stdin_is_the_terminal_going_away_not_a_crash(
    tmp_path: Path,
) -> None:
    # A read that fails (EIO when the terminal's session is gone; here a directory, which
    # select calls readable and read refuses) must reach closeout as a lost terminal. Before:
    # it escaped Textual's input loop, whose wrapper turns it into a crash (app.panic, exit 1).
    import signal
    import threading
    from types import SimpleNamespace

    from textual.drivers.linux_driver import LinuxDriver

    from app.terminal import guarded_driver

    heard: list[OSError] = []
    app = SimpleNamespace(call_later=lambda *args, **kwargs: None)
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTSTP, signal.SIGCONT)}
    try:
        driver = guarded_driver(LinuxDriver, lambda app, exc: heard.append(exc))(app)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        driver.fileno = fd
        box: dict[str, BaseException] = {}

        def read() -> None:
            try:
                driver.run_input_thread()
            except BaseException as exc:
                box["error"] = exc

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        thread.join(60)
    finally:
        os.close(fd)
    assert not thread.is_alive()
    assert "error" not in box, box
    assert [type(exc) for exc in heard] == [IsADirectoryError]
