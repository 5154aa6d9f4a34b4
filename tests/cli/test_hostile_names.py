"""Issue 9, item 3: names any tenant user can choose never reach an output as control characters.

The sandbox's ``hostile_names`` tenant names users, UPNs, an application, a service principal,
a Conditional Access policy, the organization and a subscription's SKU with terminal escapes
(clear screen, window title, OSC 52 clipboard, OSC 8 link), BEL, NUL, C1 controls, bidi
overrides and isolates, a lone surrogate, Rich markup and spreadsheet formulas. Every surface
is checked — ``plan`` and ``status`` as text and JSON, a run's output, log file, journal and
evidence pack — for raw control characters, and for the names still being there, visibly.
"""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from services.auth.device_code import DeviceCodePrompt
from services.errors import AuthError
from services.evidence.layout import PACK_FILES
from services.journal.writer import Journal
from services.sandbox.seed_hostile import (
    HOSTILE_APP,
    HOSTILE_DELETED_USER,
    HOSTILE_ORGANIZATION,
    HOSTILE_POLICY,
    HOSTILE_SERVICE_PRINCIPAL,
    HOSTILE_SKU,
    HOSTILE_USERS,
)
from services.session import sign_in_headless
from services.textsafe import UNSAFE, neutralise
from tests.support.cli_harness import (
    FAST,
    close_with_portal,
    full_run_args,
    pack_path,
    run_cli,
    target_args,
)

# A Graph error message as hostile as the names: it is quoted in every failure report.
HOSTILE_MESSAGE = "\x1b[2J\x1b]52;c;ZXZpbA==\x07Denied \u202eusr\x9b by policy"
HOSTILE_CODE = "Authorization_RequestDenied\x1b[31m"


@pytest.fixture
def hostile(make_sandbox):
    return make_sandbox(
        users=40, seed=9, synced_fraction=0, deleted_users=2, time_scale=FAST, hostile_names=True
    )


def shown(raw: str) -> str:
    """How a hostile name must appear: every control character as its visible escape."""
    return neutralise(raw)


def assert_inert(text: str, where: str, *, line_ends: str = "") -> None:
    """No control, bidi or surrogate character in ``text`` (save the file's own line ends)."""
    found = sorted({c for c in UNSAFE.findall(text) if c not in line_ends})
    assert not found, f"{where} holds raw {[ascii(c) for c in found]}"


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def assert_inert_json(text: str, where: str) -> Any:
    """JSON text that has no raw control characters and decodes to none either (a ``\\u001b``
    escape would turn back into ESC in whatever prints the value)."""
    assert_inert(text, where, line_ends="\n")
    data = json.loads(text)
    for s in strings(data):
        assert not UNSAFE.search(s), f"{where}: a decoded value holds {s!a}"
    return data


def upn(sb, local: str) -> str:
    return f"{local}@{sb.initial_domain}"


def test_the_seed_really_is_hostile(hostile) -> None:
    # Otherwise the tests below prove nothing: the raw names are in the tenant.
    t = hostile.tenant
    names = {u.display_name for u in t.users.values()} | {
        u.user_principal_name for u in t.users.values()
    }
    for display, local in HOSTILE_USERS:
        assert display in names and upn(hostile, local) in names
    assert HOSTILE_APP in {a.display_name for a in t.applications.values()}
    assert HOSTILE_SERVICE_PRINCIPAL in {s.display_name for s in t.service_principals.values()}
    assert HOSTILE_POLICY in {p.display_name for p in t.ca_policies.values()}
    assert t.org.display_name == HOSTILE_ORGANIZATION
    assert HOSTILE_SKU in {s.sku_part_number for s in t.skus.values()}
    assert upn(hostile, HOSTILE_DELETED_USER) in {
        u.user_principal_name for u in t.deleted_users.values()
    }


def test_plan_and_status_print_hostile_names_inert_as_text_and_json(
    hostile, tmp_path: Path, monkeypatch
) -> None:
    sb = hostile
    args = target_args(sb, tmp_path)

    def cli(*argv: str) -> Any:
        r = run_cli([*argv, *args], monkeypatch=monkeypatch, token=sb.issue_token())
        assert r.code in (0, 3), r.text
        assert_inert(r.err, f"{argv} stderr", line_ends="\n")
        return r

    text = cli("plan", "--disable-ca-mfa").out
    assert_inert(text, "plan", line_ends="\n")
    # The names are there, visibly: the first users by UPN, the org, the app, the SP, the
    # policy, the SKU; markup and a formula as they are.
    for raw in (
        HOSTILE_ORGANIZATION,
        upn(sb, "\x1b[2Jwiper"),
        upn(sb, "+bell\x07\x00"),
        upn(sb, "-c1\x9b2J"),
        upn(sb, "@bidi\u202eexe"),
        upn(sb, "[red]markup[/]"),
        upn(sb, '=HYPERLINK("https://evil.example")'),
        HOSTILE_APP,
        HOSTILE_SERVICE_PRINCIPAL,
        HOSTILE_POLICY,
        HOSTILE_SKU,
    ):
        assert shown(raw) in text, f"{shown(raw)} is not in the plan"
    assert "\\x1b[2J" in text and "\\u202e" in text and "\\x9b" in text

    plan = assert_inert_json(cli("plan", "--json").out, "plan --json")
    labels = {a["label"] for actions in plan["steps"].values() for a in actions}
    for _display, local in HOSTILE_USERS:
        assert shown(upn(sb, local)) in labels
    assert shown(upn(sb, "lone\ud83d")) in labels  # a lone surrogate: "\ud83d", not a crash
    # Ordinary non-Latin text is untouched.
    assert upn(sb, "åsa.öberg") in labels and upn(sb, "山田.太郎") in labels
    assert plan["tenant"]["display_name"] == shown(HOSTILE_ORGANIZATION)

    status = cli("status").out
    assert_inert(status, "status", line_ends="\n")
    # Step 0 lists the first users with mailbox data: hostile UPNs among them.
    assert shown(upn(sb, "\x1b[2Jwiper")) in status
    states = assert_inert_json(cli("status", "--json").out, "status --json")
    assert shown(upn(sb, "\x1b[2Jwiper")) in " ".join(states["0"]["blockers"])


def test_a_graph_error_message_is_printed_inert(hostile, tmp_path: Path, monkeypatch) -> None:
    sb = hostile
    sb.add_fault(
        method="GET",
        path="/v1.0/users$",
        status=400,
        code=HOSTILE_CODE,
        message=HOSTILE_MESSAGE,
        times=-1,
    )
    for argv in (["plan"], ["run", "--headless", "--json"]):
        r = run_cli(
            [*argv, *target_args(sb, tmp_path)], monkeypatch=monkeypatch, token=sb.issue_token()
        )
        assert r.code not in (0, 3), r.text
        assert_inert(r.out, f"{argv} stdout", line_ends="\n")
        assert_inert(r.err, f"{argv} stderr", line_ends="\n")
        assert shown(HOSTILE_MESSAGE) in r.err
        if "--json" in argv:
            (error,) = [o for o in r.json_lines() if o["event"] == "error"]
            assert error["message"] == shown(HOSTILE_MESSAGE)


def test_headless_sign_in_prints_the_sign_in_services_message_inert() -> None:
    prompt = DeviceCodePrompt(
        user_code="GH7KQ2TXM",
        verification_uri="https://microsoft.com/devicelogin",
        expires_at=datetime.now(UTC) + timedelta(minutes=15),
        message="To sign in, open \x1b]52;c;ZXZpbA==\x07https://microsoft.com/devicelogin\x9b2J",
    )
    session = SimpleNamespace(  # a sign-in service answering through a tampering proxy
        needs_device_code=True,
        start_device_code=lambda: prompt,
        wait_device_code=lambda prompt, stop: None,
        auth=SimpleNamespace(signed_in=False),
    )
    said: list[str] = []
    with pytest.raises(AuthError):  # not signed in: what matters is what was shown
        sign_in_headless(session, threading.Event(), said.append)  # type: ignore[arg-type]
    assert said == [shown(prompt.message)]
    assert not UNSAFE.search(said[0])


def _csv_rows(pack: Path) -> list[dict[str, str]]:
    with (pack / "outcomes.csv").open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def _check_pack(pack: Path) -> dict[str, Any]:
    """Every file of the pack inert; returns the decoded JSON files."""
    decoded: dict[str, Any] = {}
    for name in PACK_FILES:
        text = (pack / name).read_text(encoding="utf-8-sig")
        if name.endswith(".json"):
            decoded[name] = assert_inert_json(text, name)
        else:
            assert_inert(text, name, line_ends="\r\n")
    for row in _csv_rows(pack):
        for col, cell in row.items():
            # Spreadsheets evaluate a cell starting with these: each is quoted with "'".
            assert not cell.lstrip(" ").startswith(("=", "+", "-", "@")), (col, cell)
    return decoded


def test_a_failed_delete_with_a_hostile_graph_message_is_reported_inert(
    hostile, tmp_path: Path, monkeypatch
) -> None:
    sb = hostile
    target = next(
        u
        for u in sb.tenant.users.values()
        if u.user_principal_name == upn(sb, '=HYPERLINK("https://evil.example")')
    )
    sb.add_fault(
        method="DELETE",
        path=f"/users/{target.id}$",
        status=403,
        code=HOSTILE_CODE,
        message=HOSTILE_MESSAGE,
        times=-1,
    )
    # And a read that fails once (then is retried): its code goes to the log file.
    sb.add_fault(
        method="GET", path="/applications", status=429, code=HOSTILE_CODE, retry_after=0.01
    )
    state = tmp_path / "state"
    r = run_cli(
        ["run", "--headless", "--yes", "--no-wait", *target_args(sb, state)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 4, r.text
    assert_inert(r.out, "run stdout", line_ends="\n")
    assert_inert(r.err, "run stderr", line_ends="\n")
    (failed,) = [line for line in r.out.splitlines() if "FAILED step 1" in line]
    assert shown(upn(sb, '=HYPERLINK("https://evil.example")')) in failed
    assert shown(HOSTILE_MESSAGE) in failed and shown(HOSTILE_CODE) in failed

    log = state / "logs" / "closeout.log"
    assert_inert(log.read_text(encoding="utf-8"), "closeout.log", line_ends="\n")
    assert shown(HOSTILE_CODE) in log.read_text(encoding="utf-8")

    journal = Journal(sb.tenant_id, root=state).path
    raw = journal.read_text(encoding="utf-8")
    assert_inert(raw, "journal", line_ends="\n")
    for line in raw.splitlines():
        assert_inert_json(line, "a journal line")
    assert shown(HOSTILE_MESSAGE) in "".join(
        json.loads(line).get("message") or "" for line in raw.splitlines()
    )

    pack = pack_path(r)
    docs = _check_pack(pack)
    (row,) = [row for row in _csv_rows(pack) if row["result"] == "failed"]
    # The label is a formula in waiting: quoted for spreadsheets, and still readable.
    assert row["label"] == "'" + upn(sb, '=HYPERLINK("https://evil.example")')
    assert row["message"] == shown(HOSTILE_MESSAGE)
    md = (pack / "summary.md").read_text(encoding="utf-8")
    assert "\\\\x1b\\[2J" in md  # the escape, Markdown-escaped, in the failure line
    assert docs["summary.json"]["tenant"]["display_name"] == shown(HOSTILE_ORGANIZATION)
    labels = {r["label"] for r in docs["outcomes.json"]}
    assert upn(sb, "åsa.öberg") in labels and upn(sb, "山田.太郎") in labels


def test_a_whole_closeout_of_a_hostile_tenant_keeps_every_record_inert(
    hostile, tmp_path: Path, monkeypatch
) -> None:
    sb = hostile
    state = tmp_path / "state"
    argv = full_run_args(sb, state)
    r, human = close_with_portal(sb, argv, monkeypatch=monkeypatch)
    assert r.code == 0, r.text[-3000:]
    assert not human.errors, human.errors
    assert sb.recorder.events("tenant-deleted"), "the close-out did not finish"

    for line in r.out.splitlines():
        assert_inert_json(line, "a --json line")
    assert_inert(r.err, "run stderr", line_ends="\n")
    assert_inert(
        (state / "logs" / "closeout.log").read_text(encoding="utf-8"),
        "closeout.log",
        line_ends="\n",
    )
    raw = Journal(sb.tenant_id, root=state).path.read_text(encoding="utf-8")
    assert_inert(raw, "journal", line_ends="\n")
    labels = set()
    for line in raw.splitlines():
        rec = assert_inert_json(line, "a journal line")
        if rec.get("label"):
            labels.add(rec["label"])
    expected = {
        shown(HOSTILE_APP),
        shown(HOSTILE_SERVICE_PRINCIPAL),
        shown(HOSTILE_POLICY),
        shown(upn(sb, HOSTILE_DELETED_USER)),
        *(shown(upn(sb, local)) for _, local in HOSTILE_USERS),
    }
    assert expected <= labels, expected - labels

    docs = _check_pack(pack_path(r))
    assert expected <= {row["label"] for row in docs["outcomes.json"]}
    inventory = docs["inventory-before.json"]
    names = {u["display_name"] for u in inventory["users"]}
    assert {shown(d) for d, _ in HOSTILE_USERS} <= names
    assert "Åsa Öberg" in names and "山田 太郎" in names


def test_state_an_older_closeout_wrote_raw_is_read_back_inert(
    hostile, tmp_path: Path, monkeypatch
) -> None:
    # Before names were neutralised, the saved plan, the inventory backup and the journal
    # kept them raw; an admin who upgrades mid close-out still has those files.
    sb = hostile
    state = tmp_path / "state"
    r = run_cli(["plan", *target_args(sb, state)], monkeypatch=monkeypatch, token=sb.issue_token())
    assert r.code == 0, r.text
    folder = Journal(sb.tenant_id, root=state).directory
    plan = json.loads((folder / "plan.json").read_text())
    plan["tenant"]["display_name"] = HOSTILE_ORGANIZATION
    for actions in plan["steps"].values():
        for action in actions:
            action["label"] = HOSTILE_APP
    (folder / "plan.json").write_text(json.dumps(plan))
    (folder / "inventory-before.json").write_text(
        json.dumps({"users": [{"display_name": HOSTILE_USERS[0][0]}]}, ensure_ascii=False)
    )
    with Journal(sb.tenant_id, root=state) as journal:
        journal.start_run("run")
        journal.write_outcomes(
            [
                {
                    "step": 1,
                    "action": "delete-user",
                    "object": "6f1c",
                    "label": "-c1\x9b2J\u202e@old",
                    "result": "failed",
                    "message": HOSTILE_MESSAGE,
                }
            ]
        )
    assert "\x9b" in (folder / "journal.jsonl").read_text(encoding="utf-8")  # raw, as then

    for rec in Journal(sb.tenant_id, root=state).records():
        assert not [s for s in strings(rec) if UNSAFE.search(s)], rec
    out = tmp_path / "pack"
    r = run_cli(
        [
            "export",
            "--offline",
            "--tenant",
            sb.tenant_id,
            "--out",
            str(out),
            "--state-dir",
            str(state),
        ],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 0, r.text
    docs = _check_pack(out)
    assert docs["summary.json"]["tenant"]["display_name"] == shown(HOSTILE_ORGANIZATION)
    assert shown("-c1\x9b2J\u202e@old") in {row["label"] for row in docs["outcomes.json"]}
    # The saved plan, reloaded for a plan or a run, is inert too.
    r = run_cli(["plan", *target_args(sb, state)], monkeypatch=monkeypatch, token=sb.issue_token())
    assert_inert(r.out + r.err, "plan from an old saved plan", line_ends="\n")
