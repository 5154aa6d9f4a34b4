"""Journal parsing, tried with anything a file can hold (issue 9: a property-based test).

A journal is read by many paths (status, resume, settle, the evidence pack, ``export
--offline``, the sync-off window) and it is a file on disk: damaged by a crash, edited, copied
from elsewhere. Whatever its lines hold, every reader either works or refuses the whole file as
another tenant's (:class:`~services.journal.health.ForeignJournal`); a line it cannot use is counted as
damaged, never a traceback. What the readers get passes the one check at the boundary: each
record's fields have the types the readers rely on.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.errors import CloseoutError
from services.evidence.offline import export_offline
from services.evidence.rows import outcomes_from_journal
from services.journal.health import ForeignJournal
from services.journal.records import KINDS
from services.journal.writer import Journal
from services.settle import Write
from services.steps.dirsync import last_turn_off
from tests.support.strategies import json_values

TENANT = "0b7e2c1a-5f3d-4e8a-9c6b-1d2e3f4a5b6c"
OTHER = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"


def plausible(*values: Any) -> st.SearchStrategy[Any]:
    """One of the values a real journal holds, or now and then anything at all."""
    return st.one_of(st.sampled_from(values), st.sampled_from(values), json_values)


records = st.fixed_dictionaries(
    {},
    optional={
        "t": plausible("2025-03-01T10:15:02.123Z", "2025-03-01T10:16:00.000Z", "not a time"),
        "run": plausible("r1", "r2", None),
        "kind": plausible(*sorted(KINDS)),
        "tenant": plausible(TENANT, TENANT.upper(), OTHER),
        "step": plausible(0, 1, 4, 5),
        "action": plausible("delete-user", "disable-directory-sync", "purge-user"),
        "object": plausible("u1", "u2", "org"),
        "label": plausible("anna@contoso.se", ""),
        "result": plausible("done", "gone", "failed", "skipped", "unknown"),
        "status": plausible(204, 404, None),
        "method": plausible("DELETE", "PATCH"),
        "url": plausible("/users/u1", "/organization/org", "https://evil.example/x"),
        "version": plausible("v1.0", "beta"),
        "body": plausible(None, {"onPremisesSyncEnabled": False}),
        "key": plausible("invoices", "azure"),
        "done": plausible(True, False),
        "exit_code": plausible(0, 3),
        "summary": plausible({}, {"done": 1}, ""),
        "options": plausible({}, {"yes": True}),
        "graph_time": plausible("2025-03-01T10:15:00Z"),
        "detected": plausible("sign-in", "watch"),
    },
)

lines = st.lists(
    st.one_of(
        records.map(lambda r: json.dumps(r).encode()),
        records.map(lambda r: json.dumps(r).encode()),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=30).filter(lambda b: b"\n" not in b),
    ),
    max_size=12,
)


def _expect_typed(record: dict[str, Any]) -> None:
    """The contract the readers rely on, for every record the journal hands out."""
    assert isinstance(record.get("kind"), str)
    assert isinstance(record.get("run"), str | None)
    assert isinstance(record.get("t", ""), str)
    step = record.get("step")
    assert step is None or (isinstance(step, int) and not isinstance(step, bool))
    if record["kind"] in ("intent", "outcome"):
        assert isinstance(record["action"], str) and record["action"]
        assert isinstance(record["object"], str) and record["object"]
    if record["kind"] == "outcome":
        assert isinstance(record.get("result"), str)


def _read_everything(journal: Journal, root: Path, out: Path) -> None:
    records = journal.records()
    for record in records:
        _expect_typed(record)
    assert journal.health.damaged <= len(records) + 20
    journal.unfinished()
    for intent in journal.unsettled():
        Write.from_intent(intent)
    journal.outcomes()
    journal.outcomes("r1")
    journal.manual_ticks()
    journal.last_success("delete-user")
    journal.tenant_gone_record()
    journal.health.warning(journal.path)
    outcomes_from_journal(journal.iter_records())
    outcomes_from_journal(journal.iter_records(), run_id="r2")
    last_turn_off(journal, datetime(2025, 3, 5, tzinfo=UTC))
    # A refusal (e.g. a pack whose contents look like a token) is a message, not a crash.
    with contextlib.suppress(CloseoutError):
        export_offline(TENANT, root=root, out=out)


@settings(max_examples=150)
@given(lines=lines, torn=st.binary(max_size=20))
def test_every_journal_reader_survives_any_line(lines: list[bytes], torn: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "state"
        folder = root / "tenants" / TENANT
        folder.mkdir(parents=True, mode=0o700)
        (folder / "journal.jsonl").write_bytes(b"".join(line + b"\n" for line in lines) + torn)
        plan = {
            "tenant": {
                "id": TENANT,
                "display_name": "Contoso",
                "initial_domain": "contoso.onmicrosoft.com",
                "cloud": "global",
                "signed_in_upn": None,
                "signed_in_id": None,
                "app_only": False,
            },
            "keep": [],
            "steps": {},
        }
        (folder / "plan.json").write_text(json.dumps(plan))
        journal = Journal(TENANT, root=root, read_only=True)
        # A run recorded on another tenant: the whole file is refused, by design.
        with contextlib.suppress(ForeignJournal):
            _read_everything(journal, root, Path(tmp) / "pack")
