"""closeout commands that several test modules run whole: ``sandbox serve`` in a process of its
own (the way an admin starts it), ``snapshot`` in this one."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.auth.scopes import scopes_for
from services.sandbox import Sandbox
from tests.support import REPO
from tests.support.cli_harness import run_cli, target_args

READ_SCOPES = frozenset(scopes_for(read_only=True))
"""What a read-only sign-in asks for: all a snapshot needs."""


def snapshot_of(
    sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *extra: str, name: str = "t"
) -> tuple[Path, Any]:
    """``closeout snapshot --out FILE`` with a token carrying the read scopes only."""
    out = tmp_path / f"{name}.json.gz"
    result = run_cli(
        ["snapshot", "--out", str(out), *extra, *target_args(sb, tmp_path / f"state-{name}")],
        monkeypatch=monkeypatch,
        token=sb.issue_token(scopes=READ_SCOPES),
    )
    assert result.code == 0, result.text[-3000:]
    return out, result


@contextlib.contextmanager
def serving(*args: str) -> Iterator[tuple[str, str, str, str]]:
    """``closeout sandbox serve args``: yields what it printed, its Graph root, initial domain
    and token; stops it with Ctrl-C after the block and checks it exits 0 without traceback."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "sandbox", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C" in line:
                break
        out = "".join(lines)
        base = re.search(r"Graph root\s+(http://127\.0\.0\.1:\d+)", out)
        domain = re.search(r"initial domain\s+(\S+\.onmicrosoft\.com)", out)
        token = re.search(r"CLOSEOUT_ACCESS_TOKEN=(\S+)", out)
        assert base and domain and token, out
        yield out, base.group(1), domain.group(1), token.group(1)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)  # a hang guard: a loaded machine ends a process slowly
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code == 0
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
