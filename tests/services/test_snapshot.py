"""``closeout snapshot``: a read-only copy of a tenant, one checked file, and its replica.

Every snapshot here is taken through the CLI from a seeded sandbox tenant over real HTTP, as
it would be from a real one, and every replica is served by the sandbox on loopback.
"""

from __future__ import annotations

import gzip
import json
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from services import endpoints
from services.control import RunControl
from services.errors import CloseoutError
from services.graph.client import GraphClient
from services.graph.responses import CallRecord
from services.journal.records import contains_token
from services.sandbox import Sandbox, SandboxConfig
from services.sandbox.replica import build_replica, replica_config, start_replica
from services.snapshot import SCHEMA_VERSION, Snapshot, load_snapshot
from services.snapshot.capture import ReadProgress, take_snapshot
from services.snapshot.fileformat import FORMAT, SnapshotError, _digest, encode
from services.snapshot.redact import Redactor
from tests.support.cli_harness import run_cli, target_args
from tests.support.commands import READ_SCOPES, serving, snapshot_of


def plan_json(sb: Sandbox, state: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    result = run_cli(
        ["plan", "--json", *target_args(sb, state)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert result.code == 0, result.text[-2000:]
    plan: dict[str, Any] = json.loads(result.out)
    return plan


def actions(plan: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (step, a["action"], a["object_id"]) for step, items in plan["steps"].items() for a in items
    ]


def test_a_snapshot_sends_no_write_and_its_replica_plans_the_same(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tenant grants the read scopes only: a snapshot must need nothing more.
    sb = make_sandbox(users=150, seed=9, granted_scopes=READ_SCOPES)
    before = len(sb.recorder.records())
    path, result = snapshot_of(sb, tmp_path, monkeypatch, "--mfa")
    records = sb.recorder.records()[before:]
    assert records and sb.recorder.writes() == []
    # A $batch of GETs is the only POST (the MFA states), and nothing else but GETs went out.
    assert {r.method for r in records} <= {"GET", "POST"}
    assert all(r.path.endswith("/$batch") for r in records if r.method == "POST")
    # Every request, batch items included, is a read the endpoint table knows (so its scopes
    # and guidance are the table's): nothing a snapshot sends is outside it.
    rows = {r.path: endpoints.lookup(r.method, r.path) for r in records}
    assert all(rows.values()), [p for p, found in rows.items() if not found]
    assert {e.method for found in rows.values() for e in found} <= {"GET", "POST"}
    assert {e.name for found in rows.values() for e in found} >= {"users.count", "mfa.get"}
    assert "users: 150 " in result.out and "(no writes)" in result.out
    # What it is about to read, said before it reads it (the count came from users/$count).
    assert "Reading the tenant (read-only): 150 users, about 21 pages." in result.err

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    snap = load_snapshot(path)
    assert snap.tenant_id == sb.tenant_id and snap.header["mfa"] is True
    assert snap.body["mfaStates"] == {u.id: u.mfa_state for u in sb.tenant.users.values()}

    replica = start_replica(snap, replica_config(snap, SandboxConfig()))
    try:
        original = plan_json(sb, tmp_path / "a", monkeypatch)
        copied = plan_json(replica, tmp_path / "b", monkeypatch)
    finally:
        replica.stop()
    assert len(actions(original)) > 150
    assert copied["steps"] == original["steps"]  # same actions, same ids, same labels
    assert copied["keep"] == original["keep"] and copied["warnings"] == original["warnings"]
    # Its clock starts when the snapshot was taken; its throttling is by its size.
    assert replica.tenant.org.id == sb.tenant_id
    assert replica.throttle.ru.quota == sb.throttle.ru.quota == 5000


def test_a_snapshot_signs_in_asking_for_the_read_scopes_only(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Through the device code flow (msal, for real): a tenant that consented to the read
    # scopes and nothing else refuses a sign-in asking for more (AADSTS65001).
    sb = make_sandbox(users=25, seed=11, granted_scopes=READ_SCOPES, device_code_auto_approve=0.0)
    out = tmp_path / "signed-in.json.gz"
    result = run_cli(
        ["snapshot", "--out", str(out), *target_args(sb, tmp_path / "state")],
        monkeypatch=monkeypatch,
        token="",
    )
    assert result.code == 0, result.text[-3000:]
    assert "devicelogin" in result.err  # signed in, no token given
    assert load_snapshot(out).tenant_id == sb.tenant_id and sb.recorder.writes() == []
    # The same tenant refuses a close-out's sign-in: the difference is the scopes asked for.
    refused = run_cli(
        ["run", "--headless", *target_args(sb, tmp_path / "state2")],
        monkeypatch=monkeypatch,
        token="",
    )
    assert refused.code == 5 and "AADSTS65001" in refused.err, refused.text[-2000:]


def test_the_file_holds_no_token_and_refuses_one(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = make_sandbox(users=30, seed=4)
    path, _ = snapshot_of(sb, tmp_path, monkeypatch)
    text = gzip.decompress(path.read_bytes()).decode()
    token = sb.issue_token(scopes=READ_SCOPES)
    assert token.split(".")[1] not in text and not contains_token(text)
    assert "Authorization" not in text and "Bearer" not in text

    # A tenant object carrying something token-shaped (a name anyone could choose): refused
    # whole, nothing written.
    snap = load_snapshot(path)
    snap.body["users"][1]["displayName"] = token
    with pytest.raises(CloseoutError, match="looks like an access token"):
        encode(snap)


def test_a_snapshot_client_must_be_read_only(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    from services.auth.static_token import StaticTokenAuth
    from services.caller import identify

    sb = make_sandbox(users=10, seed=2)
    with GraphClient(sb.base_url, StaticTokenAuth(sb.issue_token())) as client:
        caller = identify(client, permissions=None, cloud="global", sandbox=True)
        with pytest.raises(CloseoutError, match="read-only"):
            take_snapshot(
                client,
                caller,
                client_id="x",
                mfa=False,
                redact=False,
                control=RunControl(),
                say=lambda text: None,
            )


def test_a_redacted_snapshot_holds_no_name_or_upn_and_still_lines_up(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = make_sandbox(users=120, seed=6, hostile_names=True)
    t = sb.tenant
    path, result = snapshot_of(sb, tmp_path, monkeypatch, "--redact")
    assert "pseudonymised" in result.out
    text = gzip.decompress(path.read_bytes()).decode()
    lowered = text.casefold()
    secrets = [t.org.display_name, t.org.initial_domain, *t.org.custom_domains]
    for u in [*t.users.values(), *t.deleted_users.values()]:
        secrets += [u.display_name, u.user_principal_name]
    secrets += [a.display_name for a in t.applications.values()]
    secrets += [sp.display_name for sp in t.service_principals.values() if not sp.is_microsoft]
    secrets += [p.display_name for p in t.ca_policies.values()]
    # Stored as JSON: compare with what JSON makes of each (escapes included).
    leaked = [s for s in secrets if json.dumps(s)[1:-1].casefold() in lowered]
    assert leaked == []

    snap = load_snapshot(path)
    assert snap.redacted
    users = {u["id"]: u for u in snap.body["users"]}
    # The domain structure stays: an onmicrosoft.com initial domain, guests' #EXT# form.
    initial = next(
        d["name"] for d in snap.body["organization"]["verifiedDomains"] if d["isInitial"]
    )
    assert initial.endswith(".onmicrosoft.com") and initial != t.org.initial_domain
    guests = [u for u in users.values() if u["userType"] == "Guest"]
    assert guests and all(u["userPrincipalName"].endswith(f"#EXT#@{initial}") for u in guests), (
        guests[:2]
    )
    members = [u for u in users.values() if u["userType"] == "Member"]
    assert all(u["userPrincipalName"].endswith(f"@{initial}") for u in members)
    # Stable within the file: the admin's pseudonym is the same in the header and the users.
    assert snap.header["signedIn"]["upn"] == users[sb.admin_id]["userPrincipalName"]
    # And the replica plans the same actions on the same ids (users are deleted in the
    # order of their UPNs, which are pseudonyms now).
    replica = start_replica(snap, replica_config(snap, SandboxConfig()))
    try:
        copied = plan_json(replica, tmp_path / "b", monkeypatch)
    finally:
        replica.stop()
    original = plan_json(sb, tmp_path / "a", monkeypatch)
    assert sorted(actions(copied)) == sorted(actions(original))


def test_pseudonyms_are_stable_within_a_key_and_differ_across_keys() -> None:
    one, two = Redactor(b"k" * 32), Redactor(b"j" * 32)
    upn = "anna.berg_gmail.com#EXT#@contoso.onmicrosoft.com"
    assert one.upn(upn) == one.upn(upn.upper()) != two.upn(upn)
    assert str(one.upn(upn)).endswith(f"#EXT#@{one.domain('contoso.onmicrosoft.com')}")
    assert one.domain("contoso.example").endswith(".example")


def test_progress_says_the_part_its_page_of_about_how_many_and_the_time_left() -> None:
    said: list[str] = []
    now = [0.0]
    progress = ReadProgress(said.append, every=2.0, clock=lambda: now[0])
    progress.expected_user_pages = 3
    progress.expected_calls = 10

    def read(path: str, ms: float = 500.0) -> None:
        progress(CallRecord("GET", path, "v1.0", 200, None, "c", ms, 1))

    read("/organization")
    assert said == ["Reading organization: page 1 · about 4 s left"]  # 9 reads left at 0.5 s
    read("/users?$top=999")
    assert len(said) == 1  # within two seconds of the last line: nothing said
    now[0] = 2.5
    read("/users?$skiptoken=x")
    assert said[-1] == "Reading users: page 2 of about 3 · about 4 s left"
    now[0] = 5.0
    read("/directory/subscriptions", ms=3500.0)
    assert said[-1] == "Reading subscriptions: page 1 · about 8 s left"  # slower reads: later
    before = len(said)
    now[0] = 9.0
    read("/$batch")  # the MFA reads say their own progress
    assert len(said) == before and progress.requests == 5


def test_progress_says_a_page_only_once_one_was_read() -> None:
    said: list[str] = []
    progress = ReadProgress(said.append, every=0.0, clock=lambda: 0.0)
    for status in (401, 403, 429, 503, None):  # a rejected token, a refusal, a wait, no answer
        progress(CallRecord("GET", "/organization", "v1.0", status, None, "c", 5.0, 1))
    assert said == [] and progress.pages == {}
    progress(CallRecord("GET", "/organization", "v1.0", 200, None, "c", 5.0, 2))
    assert said == ["Reading organization: page 1"]


def test_sandbox_serve_from_snapshot_serves_the_tenant_it_holds(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = make_sandbox(users=40, seed=7)
    path, _ = snapshot_of(sb, tmp_path, monkeypatch)
    original = plan_json(sb, tmp_path / "a", monkeypatch)
    with serving("--from-snapshot", str(path), "--behaviour", "no-owner") as (out, base, _d, token):
        assert f"tenant id       {sb.tenant_id}" in out and "--state-dir of its own" in out
        authority = re.search(r"authority\s+(\S+)", out)
        assert authority, out
        result = run_cli(
            [
                "plan",
                "--json",
                "--graph-url",
                base,
                "--authority",
                authority.group(1),
                "--state-dir",
                str(tmp_path / "b"),
                "--no-token-cache",
            ],
            monkeypatch=monkeypatch,
            token=token,
        )
        assert result.code == 0, result.text[-2000:]
        subs = requests.get(
            f"{base}/v1.0/directory/subscriptions",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()["value"]
    copied = json.loads(result.out)
    assert copied["steps"] == original["steps"]  # same actions on the same ids
    # The switch given on the command line holds on the replica: direct ones have no owner.
    assert subs and {s["id"] for s in subs} == {s.id for s in sb.tenant.subscriptions.values()}
    direct = [s for s in subs if s["id"] not in _partner_ids(sb)]
    assert direct and all(s.get("ownerTenantId") is None for s in direct)


def _partner_ids(sb: Sandbox) -> set[str]:
    return {s.id for s in sb.tenant.subscriptions.values() if s.owner_tenant_id}


# -- files that cannot be used -----------------------------------------------------------------


def _rewrite(path: Path, change: Callable[[dict[str, Any]], None], *, sign: bool) -> Path:
    doc = json.loads(gzip.decompress(path.read_bytes()))
    change(doc)
    if sign:
        doc["sha256"] = _digest(doc)
    bad = path.with_name(f"{change.__name__}-{path.name}")
    bad.write_bytes(gzip.compress(json.dumps(doc).encode()))
    return bad


@pytest.fixture
def good_file(make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch) -> Path:
    sb = make_sandbox(users=20, seed=3)
    path, _ = snapshot_of(sb, tmp_path, monkeypatch)
    return path


def _bad_files(good: Path) -> dict[str, tuple[Path, str]]:
    data = good.read_bytes()
    truncated = good.with_name("truncated.json.gz")
    truncated.write_bytes(data[: len(data) // 2])
    plain = good.with_name("plain.json")
    plain.write_bytes(gzip.decompress(data))

    def tamper(doc: dict[str, Any]) -> None:
        doc["body"]["users"][1]["displayName"] = "Someone Else"

    def newer(doc: dict[str, Any]) -> None:
        doc["schemaVersion"] = SCHEMA_VERSION + 1

    def older(doc: dict[str, Any]) -> None:
        doc["schemaVersion"] = SCHEMA_VERSION - 1

    def foreign(doc: dict[str, Any]) -> None:
        doc["format"] = "someone-elses-backup"

    def no_tenant(doc: dict[str, Any]) -> None:
        doc["body"]["organization"]["id"] = "another"

    return {
        "truncated": (truncated, "truncated or damaged"),
        "not gzip": (plain, "not a closeout snapshot"),
        "tampered": (_rewrite(good, tamper, sign=False), "changed after it was written"),
        "newer": (_rewrite(good, newer, sign=True), "newer closeout"),
        "older": (_rewrite(good, older, sign=True), "old snapshot"),
        "foreign": (_rewrite(good, foreign, sign=True), "not a closeout snapshot"),
        "inconsistent": (_rewrite(good, no_tenant, sign=True), "malformed"),
        "missing": (good.with_name("nowhere.json.gz"), "No snapshot file"),
    }


def test_bad_files_get_one_clear_line_and_exit_2(
    good_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_snapshot(good_file).tenant_id  # the good one loads
    for kind, (path, words) in _bad_files(good_file).items():
        for argv in (["rehearse", str(path)], ["sandbox", "serve", "--from-snapshot", str(path)]):
            result = run_cli(argv, monkeypatch=monkeypatch, token="")
            assert result.code == 2, (kind, argv, result.text)
            assert words in result.err, (kind, result.err)
            assert "Traceback" not in result.text


def test_the_tui_refuses_a_bad_file_before_it_starts(
    good_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, words = _bad_files(good_file)["tampered"]
    result = run_cli(["--rehearse", str(path)], monkeypatch=monkeypatch, token="")
    assert result.code == 2 and words in result.err


def test_an_existing_out_file_is_never_replaced(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = make_sandbox(users=10, seed=2)
    out = tmp_path / "taken.json.gz"
    out.write_bytes(b"precious")
    result = run_cli(
        ["snapshot", "--out", str(out), *target_args(sb, tmp_path / "s")],
        monkeypatch=monkeypatch,
        token=sb.issue_token(scopes=READ_SCOPES),
    )
    assert result.code == 2 and "already exists" in result.err
    assert out.read_bytes() == b"precious"
    assert sb.recorder.records() == []  # refused before signing in


def test_a_replica_takes_the_acting_admin_from_the_snapshot(good_file: Path) -> None:
    snap = load_snapshot(good_file)
    replica = build_replica(snap)
    assert replica.tenant.admin_id == snap.signed_in_id
    assert replica.start == snap.captured_at
    # Without a signed-in user (an app-only snapshot) the first enabled Global Administrator.
    header = {**snap.header, "signedIn": None}
    body = json.loads(json.dumps(snap.body))
    other = build_replica(Snapshot(header=header, body=body))
    assert (
        other.tenant.admin_id in other.tenant.roles["62e90394-69f5-4237-9190-012177145e10"].members
    )


def test_a_replica_reads_an_offset_less_time_as_utc_and_refuses_one_that_is_not_a_time(
    good_file: Path,
) -> None:
    snap = load_snapshot(good_file)

    def replica_with(when: object) -> Any:
        body = json.loads(json.dumps(snap.body))
        dated = [s for s in body["subscriptions"] if s.get("nextLifecycleDateTime")]
        assert dated, "the seeded tenant has a subscription with a lifecycle date"
        dated[0]["nextLifecycleDateTime"] = when
        return dated[0]["id"], build_replica(Snapshot(header=snap.header, body=body))

    sub_id, with_z = replica_with("2030-01-02T03:04:05Z")
    _, without_offset = replica_with("2030-01-02T03:04:05")
    at = with_z.tenant.subscriptions.get(sub_id).next_lifecycle
    assert at is not None  # the sandbox's clock: seconds after the capture
    assert without_offset.tenant.subscriptions.get(sub_id).next_lifecycle == at
    _, absent = replica_with(None)
    assert absent.tenant.subscriptions.get(sub_id).next_lifecycle is None
    with pytest.raises(SnapshotError, match="nextLifecycleDateTime 'soon' is not a time"):
        replica_with("soon")


def test_the_format_is_what_the_file_says(good_file: Path) -> None:
    doc = json.loads(gzip.decompress(good_file.read_bytes()))
    assert doc["format"] == FORMAT and doc["schemaVersion"] == SCHEMA_VERSION
    assert {"tenantId", "capturedAt", "closeoutVersion"} <= doc["header"].keys()
    assert doc["sha256"] == _digest(doc)


def test_mfa_states_are_read_in_batches_paced_to_the_reports_limit_when_graph_applies_it(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Graph may count per-user MFA reads as reports: 5 per 10 s (graph-api.md §5.1). The
    # sandbox's switch says it does; its clock runs 20x, so a window is half a second.
    sb = make_sandbox(users=24, seed=5, mfa_limit="reports", time_scale=20.0)
    path, result = snapshot_of(sb, tmp_path, monkeypatch, "--mfa")
    err = result.err
    # How long it may take is said before the first read.
    said = err.index("Reading per-user MFA states: 24 reads in 2 batches")
    assert "5 per 10 s" in err[said:].splitlines()[0]
    assert said < err.index("MFA states: ")
    assert "throttled the MFA reads as reports" in err
    snap = load_snapshot(path)
    assert snap.body["mfaStates"] == {u.id: u.mfa_state for u in sb.tenant.users.values()}
    assert not [k for k in snap.body["errors"] if k.startswith("mfa")]
    reads = [
        r
        for r in sb.recorder.records()
        if r.in_batch and r.path.endswith("/authentication/requirements")
    ]
    # Each user's state was read once; after the first refusals, at most 5 reads per window
    # went out, so the refusals stay those of the first batch.
    assert sum(1 for r in reads if r.status == 200) == 24
    refused = [r for r in reads if r.status == 429]
    assert 0 < len(refused) <= 15
    assert sb.recorder.writes() == []
