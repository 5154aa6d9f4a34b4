"""The journal's index: unfinished(), unsettled() and check() read the file once and then only
what was appended, and answer exactly as a whole read of the file does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.journal.health import ForeignJournal
from services.journal.resume import _unfinished
from services.journal.writer import Journal
from tests.support.tenant import TENANT_ID


@pytest.fixture(autouse=True)
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


def _same_unfinished(j: Journal) -> None:
    survey = j.unfinished()
    whole = _unfinished(j.iter_records)
    assert survey == whole
    # unsettled(): every run's writes without a known outcome, as a whole read finds them.
    open_writes: dict[Any, Any] = {}
    for rec in j.iter_records():
        if rec["kind"] == "intent":
            open_writes.pop((rec["action"], rec["object"]), None)
            open_writes[(rec["action"], rec["object"])] = rec["object"]
        elif rec["kind"] == "outcome" and rec.get("result") != "unknown":
            open_writes.pop((rec["action"], rec["object"]), None)
    assert [w["object"] for w in j.unsettled()] == list(open_writes.values())


def test_the_journal_index_answers_as_a_whole_read_does_as_the_file_grows() -> None:
    with Journal(TENANT_ID) as j:
        _same_unfinished(j)
        first = j.start_run("run")
        j.write_intents([{"step": 1, "action": "delete-user", "object": f"u{i}"} for i in range(6)])
        j.write_outcomes([{"step": 1, "action": "delete-user", "object": "u0", "result": "done"}])
        _same_unfinished(j)
        j.step(1, "running")
        second = j.start_run("run")  # the first process died
        j.write_intents([{"step": 1, "action": "delete-user", "object": "u1"}])
        j.write_outcomes(
            [{"step": 1, "action": "delete-user", "object": "u2", "result": "unknown"}]
        )
        _same_unfinished(j)
        assert j.unfinished() is not None and j.unfinished().runs == (first, second)  # type: ignore[union-attr]
        j.end_run(second, 0)
        _same_unfinished(j)
        assert j.unfinished() is None
        third = j.start_run("run")
        j.write_intents([{"step": 1, "action": "delete-user", "object": "u9"}])
        _same_unfinished(j)
        # Runs that interleave (hand-made: one closeout at a time never writes this) are read
        # again whole, and still answer as before.
        j.write_outcomes(
            [{"step": 1, "action": "delete-user", "object": "u3", "result": "done", "run": first}]
        )
        j.append("step", run=second, step=1, status="done", summary="")
        _same_unfinished(j)
        assert j.unfinished() is not None and j.unfinished().run_id == third  # type: ignore[union-attr]


def test_a_last_line_without_its_newline_counts_until_it_is_completed() -> None:
    with Journal(TENANT_ID) as j:
        run = j.start_run("run")
        j.write_intents([{"step": 1, "action": "delete-user", "object": "u1"}])
    line = json.dumps(
        {"t": "2025-03-01T10:00:00.000Z", "run": run, "kind": "outcome", "step": 1,
         "action": "delete-user", "object": "u1", "result": "done"}
    )  # fmt: skip
    reader = Journal(TENANT_ID)
    assert [w["object"] for w in reader.unsettled()] == ["u1"]
    with reader.path.open("a", encoding="utf-8") as fh:
        fh.write(line)  # no newline: a writer killed before it
    assert reader.unsettled() == []
    assert reader.unfinished() == _unfinished(reader.iter_records)


def test_a_foreign_run_is_refused_by_every_read_not_only_the_first() -> None:
    with Journal(TENANT_ID) as j:
        j.start_run("run")
        j.append("run-start", run="r-other", tenant="72f988bf-86f1-41af-91ab-2d7cd011db47")
    reader = Journal(TENANT_ID)
    for _ in range(2):
        with pytest.raises(ForeignJournal):
            reader.check()
    with pytest.raises(ForeignJournal):
        reader.unsettled()


def test_not_sent_counts_and_the_last_not_sent_per_step_come_from_the_index() -> None:
    def whole(j: Journal, run: str) -> dict[tuple[int, str], int]:
        counts: dict[tuple[int, str], int] = {}
        for rec in j.iter_records():
            if rec["kind"] == "not-sent" and rec["run"] == run:
                key = (rec["step"], rec["action"])
                counts[key] = counts.get(key, 0) + rec["count"]
        return counts

    with Journal(TENANT_ID) as j:
        first = j.start_run("tui")
        assert j.not_sent_counts(first) == {} and j.last_not_sent() == {}
        j.not_sent(1, "delete-user", 4599)
        j.not_sent(2, "disable-service-principal", 3)
        assert (
            j.not_sent_counts(first)
            == whole(j, first)
            == {
                (1, "delete-user"): 4599,
                (2, "disable-service-principal"): 3,
            }
        )
        j.end_run(first, 3)
        second = j.start_run("tui")
        j.not_sent(1, "delete-user", 10)
        j.not_sent(1, "delete-user", 5)
        assert j.not_sent_counts(second) == whole(j, second) == {(1, "delete-user"): 15}
        assert j.not_sent_counts(first) == whole(j, first)
        last = j.last_not_sent()
        assert last[1]["run"] == second and last[1]["count"] == 5
        assert last[2]["run"] == first


def test_the_latest_step_records_and_when_the_journal_was_last_written() -> None:
    with Journal(TENANT_ID) as j:
        assert j.last_steps() == ({}, None)
        first = j.start_run("tui")
        j.step(3, "waiting-time", "Waiting for directory sync to turn off")
        j.step(1, "running")
        j.step(1, "pending")
        j.end_run(first, 3)
        steps, at = j.last_steps()
        assert {n: r["status"] for n, r in steps.items()} == {3: "waiting-time", 1: "pending"}
        ended = [r for r in j.iter_records() if r["kind"] == "run-end"][-1]
        assert at is not None and at.isoformat().startswith(ended["t"][:19])
