"""A ``closeout run`` killed with SIGKILL in the middle of step 1 resumes on the next run.

The first run is a real subprocess, killed while batches of deletes are in flight. The next run
must say that it resumes the unfinished run, reconcile what was in flight with a fresh read,
finish step 1, and leave a journal in which every write has an outcome and no user was deleted
twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from typing import Any

from services.journal.writer import Journal
from tests.support import REPO
from tests.support.cli_harness import FAST, run_cli, target_args, wait_for


def signal_mid_step_1(
    sb: Any, argv: list[str], signum: int
) -> tuple[subprocess.Popen[bytes], bytes, bytes]:
    """Run ``closeout argv`` in a real process and send ``signum`` once 40 users are deleted."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", *argv],
        cwd=REPO,
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: len(sb.recorder.events("user-deleted")) >= 40, 60, "some deletions")
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc, out, err


def test_killed_run_resumes_and_ends_right(make_sandbox, tmp_path, monkeypatch) -> None:
    sb = make_sandbox(users=300, seed=21, synced_fraction=0, time_scale=FAST)
    # Slow every user deletion a little (the request is still served), so the kill lands
    # while batches are in flight rather than after step 1.
    slow = sb.add_fault(
        method="DELETE", path=r"/users/[0-9a-f-]+$", status=None, delay=0.02, times=-1
    )
    state = tmp_path / "state"
    token = sb.issue_token()
    monkeypatch.setenv("CLOSEOUT_ACCESS_TOKEN", token)
    argv = ["run", "--headless", "--yes", "--no-wait", "--json", *target_args(sb, state)]
    proc, _out, err = signal_mid_step_1(sb, argv, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL, err.decode(errors="replace")[-2000:]
    killed_at = len(sb.recorder.events("user-deleted"))
    assert killed_at < 299, "the kill landed after step 1: nothing to resume"
    # Let the batches the dead process had sent finish on the server side, as Graph would:
    # its connections close once their requests are served (a pause in the deletions is no
    # sign of that on a loaded machine).
    wait_for(lambda: sb.connections_open() == 0, 60, "the dead process's batches")
    last = len(sb.recorder.events("user-deleted"))
    assert last < 299
    before_resume = {e.detail["id"] for e in sb.recorder.events("user-deleted")}

    unfinished = Journal(sb.tenant_id, root=state).unfinished()
    assert unfinished is not None and unfinished.pending, "intents were in flight"
    slow.times = 0  # the next run at full speed

    r = run_cli(argv, monkeypatch=monkeypatch, token=token)
    assert r.code == 3, r.text  # step 1 done, now waiting on the subscriptions' handoff
    lines = r.json_lines()
    resumes = [o for o in lines if o["event"] == "resume"]
    assert len(resumes) == 1 and resumes[0]["run"] == unfinished.run_id
    assert resumes[0]["pending"] == len(unfinished.pending)
    assert any(o["event"] == "note" and "in flight" in o["message"] for o in lines)
    assert any(o["event"] == "step" and o["step"] == 1 and o["status"] == "done" for o in lines)

    # The end state: everyone but the admin deleted, nobody deleted twice.
    assert [u.id for u in sb.tenant.users.values()] == [sb.admin_id]
    deleted = [e.detail["id"] for e in sb.recorder.events("user-deleted")]
    assert len(deleted) == len(set(deleted)) == 299
    user_deletes = Counter(
        {
            path: n
            for (method, path), n in sb.recorder.writes_per_target().items()
            if method == "DELETE" and path.startswith("/v1.0/users/")
        }
    )
    assert len(user_deletes) == 299 and max(user_deletes.values()) == 1

    # The journal is consistent: every intent has an outcome after it, every deleted user has
    # a successful outcome, none has two, and nothing is left unfinished.
    journal = Journal(sb.tenant_id, root=state)
    assert journal.unfinished() is None
    records = journal.records()
    open_intents: set[tuple[str, str]] = set()
    for rec in records:
        key = (rec.get("action"), rec.get("object"))
        if rec["kind"] == "intent":
            open_intents.add(key)
        elif rec["kind"] == "outcome":
            open_intents.discard(key)
    assert open_intents == set()
    ok = Counter(
        rec["object"]
        for rec in records
        if rec["kind"] == "outcome"
        and rec["action"] == "delete-user"
        and rec["result"] in ("done", "gone")
    )
    assert set(ok) == set(deleted)
    assert max(ok.values()) == 1
    # What the killed run had in flight and Graph had done is recorded as "gone" (confirmed by
    # a fresh read); what it had not yet reached was sent again and recorded as "done".
    in_flight = {p["object"] for p in unfinished.pending if p["action"] == "delete-user"}
    reconciled = {
        rec["object"]
        for rec in records
        if rec["kind"] == "outcome" and rec["action"] == "delete-user" and rec["result"] == "gone"
    }
    assert reconciled and reconciled == in_flight & before_resume
    assert reconciled.isdisjoint(d.detail["id"] for d in sb.recorder.events("user-deleted")[last:])


def test_sigterm_mid_step_1_stops_cleanly_between_batches(make_sandbox, tmp_path, monkeypatch):
    sb = make_sandbox(users=300, seed=22, synced_fraction=0, time_scale=FAST)
    sb.add_fault(method="DELETE", path=r"/users/[0-9a-f-]+$", status=None, delay=0.02, times=-1)
    state = tmp_path / "state"
    monkeypatch.setenv("CLOSEOUT_ACCESS_TOKEN", sb.issue_token())
    argv = ["run", "--headless", "--yes", "--json", *target_args(sb, state)]
    proc, out, err = signal_mid_step_1(sb, argv, signal.SIGTERM)
    assert proc.returncode == 3, err.decode(errors="replace")[-2000:]
    lines = [json.loads(line) for line in out.decode().splitlines()]
    stopped = [o for o in lines if o["event"] == "stopped"]
    assert len(stopped) == 1 and "again" in stopped[0]["message"]
    assert lines[-1]["event"] == "exit" and lines[-1]["code"] == 3
    assert len(sb.recorder.events("user-deleted")) < 299  # it did stop early
    # Nothing left in flight: the journal needs no resume and every intent has its outcome.
    journal = Journal(sb.tenant_id, root=state)
    assert journal.unfinished() is None
    records = journal.records()
    intents = {(r["action"], r["object"]) for r in records if r["kind"] == "intent"}
    outcomes = {(r["action"], r["object"]) for r in records if r["kind"] == "outcome"}
    assert intents and intents <= outcomes
    # Exactly the deleted users have a successful outcome.
    ok = {
        r["object"]
        for r in records
        if r["kind"] == "outcome" and r["action"] == "delete-user" and r["result"] == "done"
    }
    assert ok == {e.detail["id"] for e in sb.recorder.events("user-deleted")}
