"""One tenant, one runner (issue 9, item 5), with real processes.

Two ``closeout run`` processes against one sandbox tenant, each with its own ``--state-dir``:
the second must refuse before it sends anything, name the first (pid, state dir) and exit with
the documented code, and leave its own state dir without a journal. Reading commands keep
working while the run holds the tenant.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from services.exit_codes import ExitCode
from services.journal.writer import Journal
from tests.support import REPO
from tests.support.cli_harness import FAST, run_cli, target_args, wait_for

SECOND_APP = "0b0b0b0b-2222-4222-8222-222222222222"


def cli(argv: list[str], token: str, **kw) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *argv],
        cwd=REPO,
        env={**os.environ, "CLOSEOUT_ACCESS_TOKEN": token},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


@pytest.mark.timeout(180)
def test_a_second_runner_with_another_state_dir_is_refused(make_sandbox, tmp_path, monkeypatch):
    sb = make_sandbox(users=300, seed=23, synced_fraction=0, time_scale=FAST)
    # Slow deletions keep the first run in step 1: the moment two runners would delete at once.
    slow = sb.add_fault(
        method="DELETE", path=r"/users/[0-9a-f-]+$", status=None, delay=0.05, times=-1
    )
    state_a, state_b = tmp_path / "a", tmp_path / "b"
    run = ["run", "--headless", "--yes", "--json"]
    first = cli([*run, *target_args(sb, state_a)], sb.issue_token())
    try:
        wait_for(lambda: len(sb.recorder.events("user-deleted")) >= 5, 60, "the first run deleting")

        token_b = sb.issue_token(app_id=SECOND_APP)
        # --no-wait: were it let in, it would end after its own deletions instead of waiting.
        second = cli([*run, "--no-wait", *target_args(sb, state_b)], token_b)
        out, err = second.communicate(timeout=60)
        assert second.returncode == ExitCode.BUSY, out + err
        assert first.poll() is None, "the first run must still be the one working"
        assert f"pid {first.pid}" in err, err
        assert str(state_a.resolve()) in err, err
        assert "(run)" in err, err
        assert "Traceback" not in err
        # It identified the tenant (reads) and stopped there: no write of its own, no journal.
        mine = [r for r in sb.recorder.records() if r.app_id == SECOND_APP]
        assert mine and not [r for r in mine if r.is_write], [r.path for r in mine if r.is_write]
        assert not (state_b / "tenants").exists()
        assert Journal(sb.tenant_id, root=state_b).records() == []

        # Reading commands do not take the lock: they work while the run holds it.
        for command in ("status", "plan"):
            r = run_cli(
                [command, *target_args(sb, state_b)], monkeypatch=monkeypatch, token=token_b
            )
            assert r.code != ExitCode.BUSY and "Another closeout" not in r.text, r.text
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 3  # stopped between batches, recorded

    # The OS released both locks with the process: the other state dir may proceed now.
    slow.times = 0
    r = run_cli(
        [*run, "--no-wait", *target_args(sb, state_b)], monkeypatch=monkeypatch, token=token_b
    )
    assert r.code == 3, r.text
    assert len(sb.tenant.users) == 1  # only the signed-in admin is left
    assert Journal(sb.tenant_id, root=state_b).records()


def test_busy_exit_code_is_documented() -> None:
    from app.cli.parser import epilog

    assert f"  {int(ExitCode.BUSY)}  " in epilog()
