"""The journal: durable intents before a send, torn lines, resume after a kill, the tenant lock."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.journal.records import new_run_id
from services.journal.writer import Journal
from services.locks import TenantLocked
from services.models import ItemFinished, StepId
from tests.support import REPO

TENANT = "0b7e2c1a-5f3d-4e8a-9c6b-1d2e3f4a5b6c"
JWT = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9"
    ".eyJhdWQiOiJodHRwczovL2dyYXBoLm1pY3Jvc29mdC5jb20ifQ"
    ".c2lnbmF0dXJlLXNpZ25hdHVyZQ"
)


@pytest.fixture(autouse=True)
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def journal() -> Iterator[Journal]:
    with Journal(TENANT) as j:
        yield j


def users(n: int, start: int = 0) -> list[dict[str, object]]:
    return [
        {
            "step": StepId.DELETE_USERS,
            "action": "delete-user",
            "object": f"user-{i:04d}",
            "label": f"user{i}@contoso.se",
        }
        for i in range(start, start + n)
    ]


def outcome(i: int, result: str = "done", **extra: object) -> dict[str, object]:
    return {
        "step": 1,
        "action": "delete-user",
        "object": f"user-{i:04d}",
        "label": f"user{i}@contoso.se",
        "result": result,
        "status": 204 if result == "done" else 403,
        "request_id": f"req-{i}",
        **extra,
    }


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- record format and modes -------------------------------------------------------------------


def test_records_have_time_run_and_kind(journal: Journal) -> None:
    run = journal.start_run("run", options={"read_only": False}, user="admin@contoso.se")
    journal.note("directory sync turned off", by="admin@contoso.se")
    journal.end_run(run, 0, {"done": 0})

    records = journal.records()
    assert [r["kind"] for r in records] == ["run-start", "note", "run-end"]
    for rec in records:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rec["t"])
        assert rec["run"] == run
    start = records[0]
    assert start["command"] == "run"
    assert start["user"] == "admin@contoso.se"
    assert start["options"] == {"read_only": False}
    assert start["pid"] == os.getpid()
    assert records[1]["text"] == "directory sync turned off"
    assert records[2]["exit_code"] == 0
    assert journal.run_id is None


def test_files_and_dirs_are_private(journal: Journal) -> None:
    assert journal.path == journal.directory / "journal.jsonl"
    assert mode(journal.path) == 0o600
    assert mode(journal.lock_path) == 0o600
    assert mode(journal.directory) == 0o700


def test_loose_existing_files_are_tightened(xdg: Path) -> None:
    tdir = xdg / "state" / "closeout" / "tenants" / TENANT
    tdir.mkdir(parents=True)
    tdir.chmod(0o755)
    (tdir / "journal.jsonl").write_text("")
    (tdir / "journal.jsonl").chmod(0o644)
    (tdir / "journal.lock").write_text("")
    (tdir / "journal.lock").chmod(0o666)
    with Journal(TENANT):
        assert mode(tdir) == 0o700
        assert mode(tdir / "journal.jsonl") == 0o600
        assert mode(tdir / "journal.lock") == 0o600


def test_run_ids_sort_by_start_time() -> None:
    t0 = datetime(2025, 3, 1, 10, 15, 2, 123000, tzinfo=UTC)
    ids = [new_run_id(t0 + timedelta(milliseconds=ms)) for ms in (0, 1, 999, 60_000)]
    assert ids == sorted(ids)
    assert ids[0].startswith("20250301T101502.123Z-")
    assert len(set(new_run_id(t0) for _ in range(50))) == 50


# -- durability --------------------------------------------------------------------------------


def test_a_batch_of_intents_is_one_write_and_one_fsync_before_return(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal.start_run("run")
    seen_at_fsync: list[int] = []
    writes: list[int] = []
    real_fsync, real_write = os.fsync, os.write

    def counting_fsync(fd: int) -> None:
        # What is on disk when fsync is called: every intent must already be written.
        seen_at_fsync.append(sum(1 for line in lines(journal.path) if '"intent"' in line))
        real_fsync(fd)

    def counting_write(fd: int, data: bytes) -> int:
        writes.append(fd)
        return real_write(fd, data)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    monkeypatch.setattr(os, "write", counting_write)
    batch = journal.write_intents(users(20))

    assert seen_at_fsync == [20]
    assert len(writes) == 1
    monkeypatch.undo()
    intents = [r for r in journal.records() if r["kind"] == "intent"]
    assert len(intents) == 20
    assert {r["batch"] for r in intents} == {batch}
    assert intents[0]["step"] == 1
    assert intents[0]["label"] == "user0@contoso.se"


def test_outcomes_are_fsynced_once_per_call(
    journal: Journal, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal.start_run("run")
    journal.write_intents(users(3))
    calls: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    journal.write_outcomes([outcome(0), outcome(1)])
    assert len(calls) == 1
    journal.write_outcomes([outcome(2, "failed", code="Authorization_RequestDenied")])
    assert len(calls) == 2
    assert [r["result"] for r in journal.outcomes()] == ["done", "done", "failed"]


def test_item_finished_events_are_accepted(journal: Journal) -> None:
    journal.start_run("run")
    at = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    journal.write_outcomes(
        [ItemFinished(StepId.DELETE_USERS, "delete-user", "u1", "a@contoso.se", "gone", 404, at=at)]
    )
    (rec,) = journal.outcomes()
    assert rec["object"] == "u1"
    assert rec["result"] == "gone"
    assert rec["status"] == 404
    assert rec["at"] == "2025-03-01T12:00:00.000Z"


def test_invalid_records_are_refused_before_anything_is_written(journal: Journal) -> None:
    with pytest.raises(RuntimeError, match="start_run"):
        journal.write_intents(users(1))
    journal.start_run("run")
    size = journal.path.stat().st_size
    with pytest.raises(ValueError, match="result"):
        journal.write_outcomes([outcome(0, "exploded")])
    with pytest.raises(ValueError, match="object"):
        journal.write_intents([*users(2), {"step": 1, "action": "delete-user"}])
    with pytest.raises(ValueError, match="kind"):
        journal.append("whatever")
    with pytest.raises(ValueError, match="reserved"):
        journal.append("note", t="2000-01-01T00:00:00.000Z")
    assert journal.path.stat().st_size == size


def test_writing_needs_an_open_journal() -> None:
    j = Journal(TENANT)
    with pytest.raises(RuntimeError, match="not open"):
        j.note("hello")
    assert j.records() == []  # reading needs no lock and no file


def test_concurrent_writers_never_interleave(journal: Journal) -> None:
    journal.start_run("run")

    def worker(k: int) -> None:
        for i in range(25):
            journal.write_outcomes([outcome(k * 1000 + i), outcome(k * 1000 + 500 + i)])

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(journal.outcomes()) == 8 * 25 * 2
    assert journal.corrupt_lines == 0


# -- torn and corrupt lines --------------------------------------------------------------------


def test_torn_last_line_is_ignored_and_the_next_record_starts_fresh(xdg: Path) -> None:
    with Journal(TENANT) as j:
        run = j.start_run("run")
        j.write_intents(users(2))
        path = j.path
    with path.open("ab") as fh:  # a process killed half-way through a write
        fh.write(b'{"t":"2025-03-01T10:00:00.000Z","run":"' + run.encode() + b'","kind":"outc')

    j = Journal(TENANT)
    assert [r["kind"] for r in j.records()] == ["run-start", "intent", "intent"]
    assert j.torn_tail
    assert j.corrupt_lines == 0

    with j:
        j.note("resumed")
    raw = lines(path)
    assert raw[-2].endswith('"kind":"outc')  # the torn fragment kept on its own line...
    assert json.loads(raw[-1])["text"] == "resumed"  # ...and the new record intact on the next
    records = j.records()
    assert [r["kind"] for r in records] == ["run-start", "intent", "intent", "note"]
    assert j.corrupt_lines == 1
    assert not j.torn_tail


def test_corrupt_lines_in_the_middle_are_skipped_and_counted(journal: Journal) -> None:
    journal.start_run("run")
    with journal.path.open("ab") as fh:
        fh.write(b'not json\n[1, 2]\n{"no": "kind"}\n\n')
    journal.note("after")
    assert [r["kind"] for r in journal.records()] == ["run-start", "note"]
    assert journal.corrupt_lines == 3


def test_a_field_of_the_wrong_type_is_a_damaged_line_for_every_reader(journal: Journal) -> None:
    """Issue 9 item 14: a journal line whose ``object`` is an array, or whose run id or step is
    a list or an object, crashed the readers (unhashable keys). Such a line is counted as
    damaged, like a line cut in half, and every reader goes on with the rest."""
    run = journal.start_run("run")
    journal.write_intents(users(1))
    t = '"t":"2025-03-01T10:00:00.000Z"'
    bad = [
        f'{{{t},"run":"{run}","kind":"intent","step":1,"action":"delete-user","object":["u9"]}}',
        f'{{{t},"run":["{run}"],"kind":"intent","step":1,"action":"delete-user","object":"u8"}}',
        f'{{{t},"run":"{run}","kind":"step","step":{{"id":1}},"status":"done"}}',
        f'{{{t},"run":"{run}","kind":"outcome","step":1,"action":"delete-user","object":"u7",'
        '"result":["done"]}',
        f'{{"t":null,"run":"{run}","kind":"note","text":"x"}}',
        f'{{{t},"run":"{run}","kind":"step","step":true,"status":"done"}}',
    ]
    with journal.path.open("ab") as fh:
        fh.write("".join(line + "\n" for line in bad).encode())
    journal.note("after")
    assert [r["kind"] for r in journal.records()] == ["run-start", "intent", "note"]
    assert journal.corrupt_lines == len(bad)
    pending = journal.unfinished()
    assert pending is not None and [p["object"] for p in pending.pending] == ["user-0000"]
    assert [w["object"] for w in journal.unsettled()] == ["user-0000"]
    assert journal.outcomes() == []


def test_a_complete_last_record_without_newline_is_kept(journal: Journal) -> None:
    journal.start_run("run")
    data = journal.path.read_bytes()
    journal.path.write_bytes(data.rstrip(b"\n"))
    assert [r["kind"] for r in journal.records()] == ["run-start"]
    assert not journal.torn_tail


def test_reads_are_incremental_and_see_other_writers(journal: Journal) -> None:
    reader = Journal(TENANT)  # e.g. `closeout status` while a run is in progress: no lock
    journal.start_run("run")
    assert [r["kind"] for r in reader.records()] == ["run-start"]
    journal.write_intents(users(2))
    journal.write_outcomes([outcome(0)])
    assert [r["kind"] for r in reader.records()] == ["run-start", "intent", "intent", "outcome"]
    assert reader.records() == journal.records()


def test_a_replaced_journal_file_is_read_afresh(journal: Journal) -> None:
    journal.start_run("run")
    journal.note("one")
    reader = Journal(TENANT)
    assert len(reader.records()) == 2
    replacement = journal.path.with_name("other.jsonl")
    replacement.write_text('{"t":"2025-03-01T10:00:00.000Z","run":null,"kind":"note","text":"x"}\n')
    replacement.replace(journal.path)
    assert [r.get("text") for r in reader.records()] == ["x"]


# -- resume ------------------------------------------------------------------------------------


def test_a_killed_run_reports_its_pending_intents(xdg: Path) -> None:
    with Journal(TENANT) as j:
        run = j.start_run("run", options={"steps": [1]}, user="admin@contoso.se")
        j.step(1, "running", "deleting 4 users")
        j.write_intents(users(4))
        j.write_outcomes([outcome(0), outcome(1, "failed")])
        # killed here: no more outcomes, no run-end

    pending = Journal(TENANT).unfinished()
    assert pending is not None
    assert pending.run_id == run
    assert pending.command == "run"
    assert pending.user == "admin@contoso.se"
    assert pending.options == {"steps": [1]}
    assert pending.started_at is not None
    assert pending.started_at.tzinfo is not None
    assert [(p["step"], p["action"], p["object"], p["label"]) for p in pending.pending] == [
        (1, "delete-user", "user-0002", "user2@contoso.se"),
        (1, "delete-user", "user-0003", "user3@contoso.se"),
    ]
    assert pending.counts == {"done": 1, "failed": 1}
    assert pending.steps[1]["status"] == "running"
    assert pending.runs == (run,)


def test_a_really_killed_process_releases_the_lock_and_leaves_pending_intents(
    xdg: Path,
) -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from services.journal.writer import Journal
                j = Journal({TENANT!r}).open()
                j.start_run("run")
                j.write_intents([
                    {{"step": 1, "action": "delete-user", "object": "u1", "label": "a"}},
                    {{"step": 1, "action": "delete-user", "object": "u2", "label": "b"}},
                ])
                print("ready", flush=True)
                time.sleep(30)
                """
            ),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        with pytest.raises(TenantLocked) as info:
            Journal(TENANT).open()
        assert info.value.pid == child.pid
        assert str(child.pid) in info.value.message
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()

    with Journal(TENANT) as j:  # the kernel released the lock with the process
        pending = j.unfinished()
    assert pending is not None
    assert [p["object"] for p in pending.pending] == ["u1", "u2"]


def test_a_finished_run_is_not_unfinished(journal: Journal) -> None:
    assert journal.unfinished() is None
    run = journal.start_run("run")
    journal.write_intents(users(2))
    journal.write_outcomes([outcome(0), outcome(1)])
    assert journal.unfinished() is not None
    journal.end_run(run, 0, {"done": 2})
    assert journal.unfinished() is None


def test_a_later_finished_run_supersedes_an_abandoned_one(journal: Journal) -> None:
    journal.start_run("run")
    journal.write_intents(users(2))
    second = journal.start_run("run")  # the earlier process died; a new run reconciled
    journal.end_run(second, 0)
    assert journal.unfinished() is None


def test_unfinished_runs_in_a_row_carry_their_pending_intents(journal: Journal) -> None:
    first = journal.start_run("run")
    journal.write_intents(users(3))  # users 0, 1, 2
    second = journal.start_run("run", options={"resume": first})
    journal.write_intents(users(2, start=2))  # users 2, 3 (2 re-sent)
    journal.write_outcomes([outcome(0), outcome(2)])
    pending = journal.unfinished()
    assert pending is not None
    assert pending.run_id == second
    assert pending.runs == (first, second)
    assert [(p["object"], p["run"]) for p in pending.pending] == [
        ("user-0001", first),
        ("user-0003", second),
    ]
    assert pending.counts == {"done": 2}


def test_outcomes_latest_per_object_or_per_run(journal: Journal) -> None:
    first = journal.start_run("run")
    journal.write_outcomes([outcome(0, "failed"), outcome(1)])
    journal.end_run(first, 1)
    second = journal.start_run("run")
    journal.write_outcomes([outcome(0)])
    journal.end_run(second, 0)

    assert [(r["object"], r["result"]) for r in journal.outcomes()] == [
        ("user-0001", "done"),
        ("user-0000", "done"),
    ]
    assert [(r["object"], r["result"]) for r in journal.outcomes(first)] == [
        ("user-0000", "failed"),
        ("user-0001", "done"),
    ]
    assert len(journal.outcomes(second)) == 1


def test_manual_ticks_last_tick_wins(journal: Journal) -> None:
    journal.tick("invoices-paid", "admin@contoso.se")
    journal.tick("azure-subscriptions", "admin@contoso.se")
    journal.tick("invoices-paid", "admin@contoso.se", done=False)
    assert journal.manual_ticks() == {"azure-subscriptions"}
    assert journal.records()[0]["run"] is None  # ticks need no run


def test_confirm_keeps_only_the_expected_domain(journal: Journal) -> None:
    journal.confirm("purge-deleted-users", 12, matched=False, expected="contoso.onmicrosoft.com")
    (rec,) = journal.records()
    assert set(rec) == {"t", "run", "kind", "what", "count", "matched", "expected"}
    assert rec["matched"] is False


# -- the lock ----------------------------------------------------------------------------------


def test_a_second_journal_on_the_same_tenant_is_locked_out(journal: Journal) -> None:
    with pytest.raises(TenantLocked) as info:
        Journal(TENANT.upper()).open()  # spelling does not get around the lock
    assert info.value.pid == os.getpid()
    assert f"pid {os.getpid()}" in str(info.value)
    assert info.value.hint
    journal.close()
    with Journal(TENANT) as again:
        again.note("second process may proceed")
    assert Journal(TENANT).lock_path.read_text() == ""  # no stale pid left behind


def test_other_tenants_are_not_locked(journal: Journal) -> None:
    with Journal("fabrikam.onmicrosoft.com") as other:
        other.note("independent")


def test_another_state_dir_does_not_get_past_the_lock(journal: Journal, tmp_path: Path) -> None:
    """The lock in the runtime dir is keyed on the tenant, not on where the journal lives."""
    elsewhere = tmp_path / "elsewhere"
    with pytest.raises(TenantLocked) as info:
        Journal(TENANT, root=elsewhere).open("tui")
    text = info.value.message
    assert f"pid {os.getpid()} (run)" in text
    assert str(journal.directory.parent.parent.absolute()) in text
    assert re.search(r"since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", text), text
    assert info.value.holder is not None and info.value.holder.user
    assert not elsewhere.exists()  # turned away before it created anything
    journal.close()
    with Journal(TENANT, root=elsewhere).open("tui") as other:
        other.note("now it may")


def test_the_holder_record_names_the_process_and_is_cleared(tmp_path: Path) -> None:
    from services.locks import Holder, runtime_lock_path

    root = tmp_path / "somewhere"
    with Journal(TENANT, root=root).open("tui"):
        for path in (runtime_lock_path(TENANT), root / "tenants" / TENANT / "journal.lock"):
            holder = Holder.decode(path.read_bytes())
            assert holder is not None
            assert (holder.pid, holder.command) == (os.getpid(), "tui")
            assert holder.state_dir == str(root.absolute())
            assert holder.host and holder.since and holder.running() is True
            assert mode(path) == 0o600
    assert runtime_lock_path(TENANT).read_bytes() == b""


def dead_pid() -> int:
    """The pid of a process that has just exited."""
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


def test_a_killed_holders_record_is_reported_as_stale(tmp_path: Path) -> None:
    from services.locks import Holder, runtime_lock_path

    # What a SIGKILLed process leaves: its record, and no OS lock (the kernel dropped it).
    dead = dead_pid()
    left = Holder(pid=dead, host=None, command="run", state_dir="/gone")
    runtime_lock_path(TENANT).write_bytes(left.encode())
    with Journal(TENANT) as j:
        assert j.stale_holders == (Holder.decode(left.encode()),)
        assert j.stale_holders[0].running() is False


def test_a_lock_held_under_a_dead_process_record_says_so(tmp_path: Path) -> None:
    from services.locks import Holder, ProcessLock, runtime_lock_path

    dead = dead_pid()
    lock = ProcessLock(runtime_lock_path(TENANT), TENANT)
    lock.acquire(Holder(pid=dead, command="run", state_dir="/x"))
    try:
        with pytest.raises(TenantLocked) as info:
            Journal(TENANT).open()
        assert f"pid {dead} (run)" in info.value.message
        assert "That process has ended" in info.value.message
    finally:
        lock.release()


def test_a_read_only_journal_is_never_opened_and_reading_creates_nothing(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    ro = Journal(TENANT, root=root, read_only=True)
    assert ro.records() == [] and ro.unfinished() is None and ro.manual_ticks() == set()
    assert ro.last_success("disable-directory-sync") is None
    with pytest.raises(RuntimeError, match="read-only"):
        ro.open()
    with pytest.raises(RuntimeError, match="read-only"):
        ro.tick("invoices", "admin@contoso.se")
    assert not root.exists()
    # Reading a journal a run wrote works the same, and still writes nothing.
    with Journal(TENANT, root=root) as rw:
        rw.tick("invoices", "admin@contoso.se")
    before = (root / "tenants" / TENANT / "journal.jsonl").read_bytes()
    assert Journal(TENANT, root=root, read_only=True).manual_ticks() == {"invoices"}
    assert (root / "tenants" / TENANT / "journal.jsonl").read_bytes() == before


# -- no tokens, ever ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "write",
    [
        lambda j: j.note("proxy said", header=f"Authorization: Bearer {JWT}"),
        lambda j: j.note(JWT),
        lambda j: j.note("x", nested={"deep": [{"token": JWT}]}),
        lambda j: j.note("opaque", detail="bearer 0.AXkAabcdefghijklmnopqrstuvwxyz"),
        lambda j: j.write_intents([*users(3), {**users(1)[0], "label": JWT}]),
        lambda j: j.write_outcomes([outcome(0, "failed", message=f"token {JWT} expired")]),
        lambda j: j.start_run("run", options={"token": JWT}),
    ],
)
def test_token_looking_values_are_refused(journal: Journal, write) -> None:
    journal.start_run("run")
    before = journal.path.read_bytes()
    with pytest.raises(ValueError, match="token") as info:
        write(journal)
    assert JWT not in str(info.value)
    assert "abcdefghijklmnop" not in str(info.value)
    assert journal.path.read_bytes() == before


def test_ordinary_text_is_not_mistaken_for_a_token(journal: Journal) -> None:
    journal.note("eyJ is just three letters; a.b.c is not a token", upn="eyJohn.Doe@contoso.se")
    assert journal.records()[-1]["upn"] == "eyJohn.Doe@contoso.se"


def test_polled_answers_come_from_an_incremental_index_not_kept_records(journal: Journal) -> None:
    reader = Journal(journal.tenant_id)  # another process's view: reads, never locks
    journal.start_run("run")
    journal.write_intents([{"step": 1, "action": "disable-directory-sync", "object": "org"}])
    assert reader.last_success("disable-directory-sync") is None
    journal.write_outcomes(
        [{"step": 1, "action": "disable-directory-sync", "object": "org", "result": "failed"}]
    )
    assert reader.last_success("disable-directory-sync") is None
    journal.write_outcomes(
        [{"step": 1, "action": "disable-directory-sync", "object": "org", "result": "done"}]
    )
    first = reader.last_success("disable-directory-sync")
    assert first is not None
    journal.tick("invoices", "admin@x")
    journal.tick("azure", "admin@x")
    journal.tick("invoices", "admin@x", done=False)
    assert reader.manual_ticks() == {"azure"}
    # Many outcomes later the index still answers, and no parsed record is kept around.
    journal.write_outcomes(
        [
            {"step": 1, "action": "delete-user", "object": f"u{i}", "result": "done"}
            for i in range(2000)
        ]
    )
    assert reader.manual_ticks() == {"azure"}
    assert reader.last_success("disable-directory-sync") == first
    kept = [v for v in vars(reader).values() if isinstance(v, list) and len(v) > 100]
    assert kept == []
