"""Access tokens are opaque to closeout (issue 7, item 3).

Microsoft says clients must not read access tokens: they may be encrypted or not JWTs at all.
The sandbox's ``opaque_tokens`` switch issues encrypted (JWE-shaped) tokens no client can read,
and these tests run closeout with them: a full headless close-out with a bring-your-own token
and with tokens from the device code flow (msal over real HTTP), a token lacking a permission
(the run stops at Graph's first 403, named, exit 5, nothing changed), app-only recognised from
Graph's answer to ``/me``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.auth.scopes import (
    token_claims,
)
from services.auth.static_token import StaticTokenAuth
from services.caller import read_me
from services.errors import GraphError, redact
from services.graph.client import GraphClient
from services.sandbox.authz import ALL_SCOPES
from services.sandbox.tenant import GLOBAL_ADMIN
from tests.support.cli_harness import (
    FAST,
    close_with_portal,
    full_run_args,
    graph_writes,
    run_cli,
    target_args,
)

pytestmark = pytest.mark.slow


def _assert_closed(sb, result) -> None:
    assert result.code == 0, result.text[-3000:]
    lines = result.json_lines()
    assert lines[-1]["event"] == "exit" and lines[-1]["code"] == 0
    assert not [o for o in lines if o["event"] in ("missing", "error", "failed")]
    (deleted,) = sb.recorder.events("tenant-deleted")
    assert deleted.detail["users"] == [sb.admin_id]
    assert len(sb.tenant.deleted_users) == 0 and len(sb.tenant.applications) == 0
    mfa = [p for p in sb.tenant.ca_policies.values() if "mfa" in p.built_in_controls]
    assert mfa and all(p.state == "disabled" for p in mfa)


def test_the_sandbox_issues_tokens_no_client_can_read(make_sandbox) -> None:
    sb = make_sandbox(users=10, seed=2, opaque_tokens=True)
    for token in (sb.issue_token(), sb.issue_app_token()):
        assert len(token.split(".")) == 5  # JWE compact form: header..iv.ciphertext.tag
        assert token_claims(token) == {}
        assert redact(f"Authorization: x {token} y").count("[redacted") == 1
        assert token not in redact(f"sent {token}")
    client = GraphClient(sb.base_url, StaticTokenAuth(sb.issue_token()))
    try:
        assert client.get("/organization")["value"][0]["id"] == sb.tenant_id
    finally:
        client.close()
    # The default is a readable JWT, as Graph's tokens are today.
    plain = make_sandbox(users=10, seed=2).issue_token()
    assert token_claims(plain)["tid"]


def test_full_closeout_with_an_opaque_bring_your_own_token(
    make_sandbox, tmp_path: Path, monkeypatch
) -> None:
    sb = make_sandbox(users=80, seed=4, time_scale=FAST, opaque_tokens=True)
    token = sb.issue_token()
    assert token_claims(token) == {}
    result, human = close_with_portal(
        sb, full_run_args(sb, tmp_path / "state"), monkeypatch=monkeypatch, token=token
    )
    assert not human.errors, human.errors
    _assert_closed(sb, result)
    # Nothing was read from the token, so nothing was guessed from it either.
    assert "does not seem to carry" not in result.text


def test_full_closeout_with_opaque_tokens_from_the_device_code_flow(
    make_sandbox, tmp_path: Path, monkeypatch
) -> None:
    # The stand-in browser approves the device code as the admin; msal signs in for real.
    sb = make_sandbox(
        users=80, seed=4, time_scale=FAST, opaque_tokens=True, device_code_auto_approve=0.0
    )
    result, human = close_with_portal(
        sb, full_run_args(sb, tmp_path / "state"), monkeypatch=monkeypatch, token=""
    )
    assert not human.errors, human.errors
    assert "devicelogin" in result.err  # the sign-in prompt was shown: no token was given
    _assert_closed(sb, result)


def test_opaque_token_lacking_a_permission_stops_at_the_first_refusal(
    make_sandbox, tmp_path: Path, monkeypatch
) -> None:
    # No directory sync: the first write is a user deletion, which this token may not do.
    sb = make_sandbox(users=70, seed=6, time_scale=FAST, synced_fraction=0, opaque_tokens=True)
    cannot_delete = ALL_SCOPES - {
        "User.ReadWrite.All",
        "User.DeleteRestore.All",
        "Directory.AccessAsUser.All",
    }
    token = sb.issue_token(scopes=cannot_delete)
    before = {u.id for u in sb.tenant.users.values()}
    result = run_cli(
        ["run", "--headless", "--yes", "--json", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=token,
    )
    assert result.code == 5, result.text[-3000:]
    lines = result.json_lines()
    assert lines[-1] == {**lines[-1], "event": "exit", "code": 5}
    (error,) = [o for o in lines if o["event"] == "error"]
    # Graph's refusal, with the permission it needs named (services/guidance.py).
    assert "User.ReadWrite.All or User.DeleteRestore.All" in error["hint"]
    assert "User.ReadWrite.All or User.DeleteRestore.All" in result.err
    # One batch went out and was refused whole; the other ~50 deletions were never sent.
    writes = graph_writes(sb)
    assert writes and all(w.status == 403 and w.method == "DELETE" for w in writes)
    assert len(writes) == 20 < len(before) - 1
    # Nothing destructive happened anywhere: every user, MFA state and policy is as it was.
    assert {u.id for u in sb.tenant.users.values()} == before
    assert sb.recorder.events("user-deleted") == []
    assert sb.recorder.events("mfa-changed") == []
    # The refused requests are in the run's evidence (journalled as failed), not lost.
    refused = [o for o in lines if o["event"] == "item" and o["outcome"] == "failed"]
    assert len(refused) == 20 and {o["status"] for o in refused} == {403}


def test_opaque_token_that_cannot_read_part_of_the_tenant_stops_before_any_write(
    make_sandbox, tmp_path: Path, monkeypatch
) -> None:
    sb = make_sandbox(users=40, seed=6, time_scale=FAST, opaque_tokens=True)
    no_policies = {s for s in ALL_SCOPES if not s.startswith("Policy.")}
    result = run_cli(
        ["run", "--headless", "--yes", "--json", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(scopes=no_policies),
    )
    assert result.code == 5, result.text[-3000:]
    missing = [o for o in result.json_lines() if o["event"] == "missing"]
    # Learned from Graph, not guessed: the tenant was read, and exactly the refused part named.
    assert sb.recorder.count(method="GET", path_prefix="/v1.0/users") > 0
    assert [(o["kind"], o["name"], o["step"]) for o in missing] == [
        ("permission", "Policy.Read.All", 0)
    ], missing
    assert graph_writes(sb) == []


def test_a_readable_token_lacking_permissions_is_a_warning_not_a_verdict(
    make_sandbox, tmp_path: Path, monkeypatch
) -> None:
    # A readable JWT whose claims lack the delete permission: said early, then Graph decides.
    sb = make_sandbox(users=30, seed=6, time_scale=FAST, synced_fraction=0)
    token = sb.issue_token(scopes=ALL_SCOPES - {"User.ReadWrite.All", "User.DeleteRestore.All"})
    result = run_cli(
        ["run", "--headless", "--yes", "--no-wait", "--json", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=token,
    )
    lines = result.json_lines()
    warnings = [o["message"] for o in lines if o["event"] == "note" and o["level"] == "warning"]
    assert any("User.ReadWrite.All" in w and "does not seem to carry" in w for w in warnings)
    assert not [o for o in lines if o["event"] == "missing"]
    # The token also carries Directory.AccessAsUser.All, with which Graph lets a Global
    # Administrator delete users: the claims' "missing" was wrong, and the run went on.
    assert result.code == 3, result.text[-3000:]
    assert len(sb.recorder.events("user-deleted")) == 29
    # Step 0 carries the warning too (the TUI shows it there), without failing.
    status = run_cli(
        ["status", "--json", *target_args(sb, tmp_path)], monkeypatch=monkeypatch, token=token
    )
    step0 = json.loads(status.out)["0"]
    assert step0["status"] == "done", step0
    assert any("does not seem to carry" in b for b in step0["blockers"]), step0


def test_app_only_is_graphs_answer_to_me_not_the_token(make_sandbox, tmp_path, monkeypatch) -> None:
    sb = make_sandbox(users=30, seed=5, time_scale=FAST, opaque_tokens=True)
    app_token = sb.issue_app_token()
    client = GraphClient(sb.base_url, StaticTokenAuth(app_token))
    try:
        assert read_me(client) is None  # 400 "/me request is only valid with delegated …"
    finally:
        client.close()
    # App-only without --keep is refused, as with a readable app token.
    r = run_cli(["plan", *target_args(sb, tmp_path)], monkeypatch=monkeypatch, token=app_token)
    assert r.code == 2 and "App-only sign-in" in r.err and "--keep" in r.err, r.text
    other_ga = next(u for u in sb.tenant.roles[GLOBAL_ADMIN].members if u != sb.admin_id)
    upn = sb.tenant.users.get(other_ga).user_principal_name
    ok = run_cli(
        ["plan", "--keep", upn, *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=app_token,
    )
    assert ok.code == 0, ok.text
    assert graph_writes(sb) == []


def test_a_refused_me_that_is_not_about_app_only_is_an_error(make_sandbox) -> None:
    sb = make_sandbox(users=10, seed=5, opaque_tokens=True)
    sb.add_fault(method="GET", path="/me$", status=403, times=-1)
    client = GraphClient(sb.base_url, StaticTokenAuth(sb.issue_token()))
    try:
        with pytest.raises(GraphError) as info:
            read_me(client)
    finally:
        client.close()
    assert info.value.status == 403 and "User.Read" in (info.value.guidance or "")
