"""Stopping when asked, never hanging, and clear answers from ``closeout run`` (issue 9, items 6,
8 and 13), against the sandbox over real HTTP; a real process wherever a signal or a hang is
what is tested.

- A ``Retry-After`` beyond the sane bound on a read is a wait (exit 3 at once), said with what
  it waits for and until when; a shorter one is waited out, and SIGINT, SIGTERM and SIGHUP end
  that wait within a second, also during connect.
- Throttled reads are retried for as long as Graph asks within the bound, not six times.
- Nothing listening, or a server that is not Graph: exit 2 and one line. Graph going away
  mid-run: exit 3, and what was never sent is one count, not thousands of "failed" lines.
- A stop with many users left writes one not-sent line, and says it in one summary line.
- A headless run waiting for a person (the poll between reads of the tenant) ends within a
  second of SIGINT, SIGTERM or SIGHUP, exit 3, its journal closed.
- A 429 on one item of a ``$batch`` is said like a throttled read: what waits, until when.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support.cli_harness import (
    FAST,
    Lines,
    journal_records,
    run_cli,
    spawn_cli,
    target_args,
    wait_for,
)

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


def run_argv(sb, state: Path, *extra: str) -> list[str]:
    return ["run", "--headless", "--yes", "--no-wait", "--json", *extra, *target_args(sb, state)]


def signal_during_a_wait(
    sb, tmp_path: Path, signum: int, argv: list[str] | None = None, why: str = ""
) -> tuple[int | None, float, Lines, float]:
    """Run (``argv``, by default ``run --no-wait``), send ``signum`` once the run says it waits
    (for a reason starting with ``why``): (exit code, seconds to exit, output, when the signal
    was sent as a POSIX time)."""
    proc = spawn_cli(argv or run_argv(sb, tmp_path / "state"), token=sb.issue_token())
    lines = Lines(proc.stdout)
    try:
        wait_for(
            lambda: any(
                o.get("event") == "wait" and str(o.get("why")).startswith(why)
                for o in lines.json()
            ),
            60,
            "the wait",
        )
        sent_at = time.time()
        sent = time.monotonic()
        proc.send_signal(signum)
        proc.wait(timeout=120)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines.join()
    return proc.returncode, took, lines, sent_at


# -- item 6: long waits ----------------------------------------------------------------------


def test_an_hour_long_retry_after_on_a_read_is_a_wait_said_at_once(make_sandbox, tmp_path):
    sb = make_sandbox(users=30, seed=61)
    sb.add_fault(method="GET", path=r"^/v1\.0/users$", status=429, retry_after=3600, times=-1)
    proc = spawn_cli(run_argv(sb, tmp_path / "state"), token=sb.issue_token())
    try:
        out, err = proc.communicate(timeout=30)  # before: it slept for the hour
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, err
    events = [line for line in Lines.parse(out) if line.get("event") == "waiting"]
    assert len(events) == 1
    message = events[0]["message"]
    assert message.startswith("Graph asked to wait 1 h 0 min (until ")
    assert message.endswith(" UTC) — reading /users")
    assert "run the same command again after" in events[0]["hint"]
    assert err.startswith(f"closeout: {message}")


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_ends_a_long_wait_during_connect(make_sandbox, tmp_path, signum):
    # The very first read of the run, before the engine exists: the client built at connect
    # waits on the session's control from the start.
    sb = make_sandbox(users=10, seed=62)
    sb.add_fault(
        method="GET", path=r"^/v1\.0/organization$", status=429, retry_after=200, times=-1
    )
    # Before: SIGINT, SIGTERM and SIGHUP were ignored for the 200 s.
    code, took, lines, _ = signal_during_a_wait(sb, tmp_path, signum)
    assert code == 3
    # The wait ends at once, not after Graph's 200 s; how long the process then takes to end
    # is a loaded machine's business (a minute only guards against the 200 s).
    assert took < 60
    wait = next(o for o in lines.json() if o.get("event") == "wait")
    assert wait["what"] == "reading /organization"
    assert wait["why"] == "Graph asked to wait 3 min 20 s"
    assert wait["seconds"] == pytest.approx(200)


def test_sigterm_ends_a_long_wait_on_a_read_mid_run(make_sandbox, tmp_path):
    sb = make_sandbox(users=10, seed=63)
    sb.add_fault(method="GET", path=r"^/v1\.0/applications$", status=429, retry_after=250)
    code, took, lines, _ = signal_during_a_wait(sb, tmp_path, signal.SIGTERM)
    assert code == 3 and took < 60  # not Graph's 250 s
    said = lines.json()
    assert [o["what"] for o in said if o.get("event") == "wait"] == ["reading /applications"]
    assert said[-1] == {**said[-1], "event": "exit", "code": 3}


# -- item 13: throttling, nothing there, not Graph, an outage --------------------------------


def test_six_429s_on_one_read_are_waited_out_and_the_run_goes_on(
    make_sandbox, tmp_path, monkeypatch
):
    sb = make_sandbox(users=30, seed=64)
    rule = sb.add_fault(method="GET", path=r"^/v1\.0/users$", status=429, retry_after=1, times=6)
    r = run_cli(run_argv(sb, tmp_path / "state"), monkeypatch=monkeypatch, token=sb.issue_token())
    assert r.code == 3, r.text  # --no-wait: as far as it goes now (before: exit 4)
    assert rule.hits == 6
    said = r.json_lines()
    waits = [o for o in said if o["event"] == "wait" and o["what"] == "reading /users"]
    assert len(waits) == 6
    assert all(o["why"] == "Graph asked to wait 1.0 s" for o in waits)
    assert not [o for o in said if o["event"] == "error"]
    assert any(o["event"] == "plan" for o in said)


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def _args_for(url: str, state: Path) -> list[str]:
    return [
        "run",
        "--headless",
        "--yes",
        "--no-wait",
        "--graph-url",
        url,
        "--authority",
        f"{url}/organizations",
        "--state-dir",
        str(state),
        "--no-token-cache",
    ]


def test_nothing_listening_is_exit_2_at_once_with_one_clear_line(tmp_path, monkeypatch):
    url = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    r = run_cli(_args_for(url, tmp_path / "state"), monkeypatch=monkeypatch, token="a.b.c")
    # Before: six tries over 42 s, then exit 4. Half that tells the two apart and leaves a
    # loaded machine 20 s for one refused connection.
    assert time.monotonic() - started < 21
    assert r.code == 2, r.text
    first = r.err.splitlines()[0]
    assert first == (
        f"closeout: Nothing answers as Microsoft Graph at {url} (GET /v1.0/organization): "
        "connection refused"
    )
    assert "Traceback" not in r.text
    assert not (tmp_path / "state" / "tenants").exists()


class _WebPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_error(404, "File not found")

    def log_message(self, *args: object) -> None:
        pass


def test_a_server_that_is_not_graph_is_exit_2_not_a_missing_object(tmp_path, monkeypatch):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _WebPage)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        r = run_cli(_args_for(url, tmp_path / "state"), monkeypatch=monkeypatch, token="a.b.c")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert r.code == 2, r.text  # before: 5, "this token was rejected" (from a web page's 404)
    assert r.err.splitlines()[0] == (
        f"closeout: The server at {url} is not Microsoft Graph: it answered HTTP 404 "
        "(text/html) without Graph's error object or request-id"
    )
    assert "no longer exists" not in r.text and "rejected" not in r.text


def test_a_sign_in_refused_mid_step_is_exit_5_not_the_steps_failure(
    make_sandbox, tmp_path, monkeypatch
):
    # The token expires while step 1 deletes users and cannot be refreshed (a token given to
    # closeout; with msal, a fresh one Graph refuses too): sign in again, not "step 1 failed".
    sb = make_sandbox(users=30, seed=66, synced_fraction=0.0, time_scale=FAST)
    sb.add_fault(
        method="POST",
        path=r"/\$batch$",
        status=401,
        code="InvalidAuthenticationToken",
        message="Lifetime validation failed, the token is expired.",
        times=-1,
    )
    r = run_cli(
        run_argv(sb, tmp_path / "state"), monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert r.code == 5, r.text  # before: 4, step 1's failure
    errors = [o for o in r.json_lines() if o["event"] == "error"]
    assert len(errors) == 1 and errors[0]["code"] == 5
    assert "rejected by Microsoft Graph" in errors[0]["message"]
    assert not [o for o in r.json_lines() if o["event"] == "failed"]


def test_an_outage_mid_run_is_exit_3_and_what_was_never_sent_is_one_count(
    make_sandbox, tmp_path, monkeypatch
):
    sb = make_sandbox(users=1200, seed=65, synced_fraction=0.0, time_scale=FAST)
    sb.add_fault(method="DELETE", path=r"/users/[0-9a-f-]+$", status=None, delay=0.03, times=-1)
    state = tmp_path / "state"

    def cut_when_deleting() -> None:
        wait_for(lambda: len(sb.recorder.events("user-deleted")) >= 60, 60, "some deletions")
        sb.outage(120)  # Graph does not come back within the outage limit

    cutter = threading.Thread(target=cut_when_deleting, daemon=True)
    cutter.start()
    try:
        r = run_cli(run_argv(sb, state), monkeypatch=monkeypatch, token=sb.issue_token())
    finally:
        sb.stop()
    cutter.join(5)
    assert r.code == 3, r.text  # before: exit 4 and hundreds of "failed" lines
    said = r.json_lines()
    waiting = [o for o in said if o["event"] == "waiting"]
    assert len(waiting) == 1
    assert waiting[0]["message"].startswith("Microsoft Graph has not answered for ")
    assert "connection refused" in waiting[0]["message"]
    assert any(o["event"] == "wait" and o["what"].startswith("sending a batch") for o in said)
    records = journal_records(sb, state)
    outcomes = [rec for rec in records if rec["kind"] == "outcome"]
    assert not [rec for rec in outcomes if rec["result"] == "failed"]
    not_sent = [rec for rec in records if rec["kind"] == "not-sent"]
    assert len(not_sent) == 1 and not_sent[0]["action"] == "delete-user"
    deleted = {e.detail["id"] for e in sb.recorder.events("user-deleted")}
    settled = {rec["object"] for rec in outcomes if rec["action"] == "delete-user"}
    intended = {rec["object"] for rec in records if rec["kind"] == "intent"}
    # Every planned user is deleted, has an outcome of a request that went out (or a batch
    # journalled and refused a connection), or is in the count; a handful of lines in all.
    assert len(settled) + not_sent[0]["count"] == 1199
    assert deleted <= settled <= intended  # an outcome only for a request journalled first
    # What Graph never deleted is never called done: its answer was lost ("unknown") or it
    # was not needed. How many batches were in flight or refused when the network went
    # depends on the machine's load, so it is not bounded here; the rest is one count.
    lost = [rec for rec in outcomes if rec["object"] not in deleted]
    assert all(rec["result"] in ("unknown", "skipped") for rec in lost), lost[:3]
    assert not_sent[0]["count"] > 300  # many left: the cut came after the first batches
    end = [rec for rec in records if rec["kind"] == "run-end"]
    assert end[-1]["exit_code"] == 3
    assert end[-1]["summary"]["not-sent"] == not_sent[0]["count"]
    # Before: one "item" event per user never sent (as "failed"). Now an item line is said only
    # for a request that went out: the batches in flight when the network went (their answers
    # lost, "unknown") and no more; how many that is depends on timing, not on the users left.
    itemised = [o for o in said if o["event"] == "item" and o["outcome"] != "done"]
    assert {o["object"] for o in itemised} <= settled  # none of the never-sent users
    assert len(itemised) == len({o["object"] for o in itemised})  # one line each at most


# -- item 8: a stop with many users left -------------------------------------------------------


def test_a_stop_with_many_users_left_writes_one_count_and_one_summary_line(
    make_sandbox, tmp_path
):
    sb = make_sandbox(users=2000, seed=66, synced_fraction=0.0, time_scale=FAST)
    sb.add_fault(method="DELETE", path=r"/users/[0-9a-f-]+$", status=None, delay=0.02, times=-1)
    state = tmp_path / "state"
    proc = spawn_cli(run_argv(sb, state), token=sb.issue_token())
    lines = Lines(proc.stdout)
    try:
        wait_for(lambda: len(sb.recorder.events("user-deleted")) >= 40, 60, "some deletions")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines.join()
    assert proc.returncode == 3
    said = lines.json()
    # Before: one "skipped … not sent" line per user left, on stdout and in the journal.
    assert len([o for o in said if o["event"] == "item" and o["outcome"] != "done"]) < 200
    records = journal_records(sb, state)
    outcomes = [rec for rec in records if rec["kind"] == "outcome"]
    not_sent = [rec for rec in records if rec["kind"] == "not-sent"]
    deleted = len(sb.recorder.events("user-deleted"))
    assert len(not_sent) == 1 and not_sent[0]["count"] + len(outcomes) == 1999
    assert len(outcomes) < deleted + 200
    assert [o["count"] for o in said if o["event"] == "not-sent"] == [not_sent[0]["count"]]
    stopped = [o for o in said if o["event"] == "stopped"]
    assert len(stopped) == 1
    assert stopped[0]["reason"] == "SIGTERM"
    assert stopped[0]["message"].startswith(
        f"Stopped: {not_sent[0]['count']:,} not sent, {deleted:,} done"
    )
    assert "Run the same command again to continue" in stopped[0]["message"]
    counts = stopped[0]["counts"]
    assert counts["done"] == deleted and counts["not-sent"] == not_sent[0]["count"]
    end = [rec for rec in records if rec["kind"] == "run-end"][-1]
    assert end["exit_code"] == 3 and end["summary"]["not-sent"] == not_sent[0]["count"]


# -- items 6 and 7: the --wait poll ---------------------------------------------------------


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_ends_the_wait_for_a_person_and_closes_the_journal_at_once(
    make_sandbox, tmp_path, signum
):
    # A headless run that waits (no --no-wait) for the admin to cancel the subscriptions it
    # handed over, reading the tenant again every minute: between two reads it sleeps on the
    # run's control, so a signal ends the sleep, the run and its journal at once.
    sb = make_sandbox(users=10, seed=67, synced_fraction=0.0)
    state = tmp_path / "state"
    target = target_args(sb, state)
    target[target.index("--poll-interval") + 1] = "60"
    argv = ["run", "--headless", "--yes", "--confirm-domain", sb.initial_domain, "--json", *target]
    code, _, lines, sent_at = signal_during_a_wait(sb, tmp_path, signum, argv, why="next read in")
    assert code == 3
    said = lines.json()
    poll = next(o for o in said if o.get("event") == "wait" and "step 2" in o.get("what", ""))
    assert poll["seconds"] == pytest.approx(60)
    assert said[-1] == {**said[-1], "event": "exit", "code": 3}
    records = journal_records(sb, state)
    starts = [r for r in records if r["kind"] == "run-start"]
    ends = [r for r in records if r["kind"] == "run-end"]
    assert [(e["run"], e["exit_code"]) for e in ends] == [(starts[0]["run"], 3)]
    # The journal was closed on the signal, not at the next read a minute later (half that
    # minute is a bound a loaded machine does not reach).
    ended = datetime.fromisoformat(ends[0]["t"]).timestamp()
    assert ended - sent_at < 30


def test_a_429_on_one_batch_item_says_what_waits_and_until_when(
    make_sandbox, tmp_path, monkeypatch
):
    # Not the whole $batch: one DELETE inside it is throttled. The wait is said as a throttled
    # read's is (before: nothing was said, the run just went quiet for the Retry-After).
    sb = make_sandbox(users=12, seed=68, synced_fraction=0.0)
    victim = next(u for u in sb.tenant.users.values() if u.id != sb.admin_id and not u.synced)
    rule = sb.add_fault(method="DELETE", path=f"/users/{victim.id}$", status=429, retry_after=1.5)
    before = datetime.now(UTC)
    r = run_cli(run_argv(sb, tmp_path / "state"), monkeypatch=monkeypatch, token=sb.issue_token())
    assert r.code == 3, r.text
    assert rule.hits == 1
    said = r.json_lines()
    waits = [o for o in said if o["event"] == "wait" and o["what"].startswith("sending")]
    assert len(waits) == 1, waits
    wait = waits[0]
    assert wait["what"] == "sending delete-user"
    assert wait["why"] == "Graph asked to wait 1.5 s"
    assert wait["seconds"] == pytest.approx(1.5)
    until = datetime.fromisoformat(wait["until"])
    assert before < until <= datetime.now(UTC) + timedelta(seconds=1)
    deleted = [e.detail["id"] for e in sb.recorder.events("user-deleted")]
    assert deleted.count(victim.id) == 1  # sent again after the wait, and carried out once
