"""The two worst things closeout could do, proven impossible through the CLI over real HTTP.

1. Acting on the wrong tenant: whenever the admin names a tenant (``--tenant`` or the tenant in
   ``--authority``; its id or any verified domain, in any letter case) the tenant Graph says the
   token is for must be that one, or closeout stops with exit 5 before any folder, plan or
   write, naming both tenants.
2. Calling a live tenant deleted: a refused token is "rejected" (exit 5, Graph's code and
   message), never "deleted". Only a tenant closeout reached before, named as not found by the
   refusal and confirmed gone by the public OpenID discovery document, is reported gone.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from services.sandbox.core import ALL_SCOPES
from services.sandbox.http import Response
from services.sandbox.identity.provider import register_app
from tests.support.certs import make_cert, write_pem
from tests.support.cli_harness import (
    FAST,
    deletable_sandbox,
    export_offline,
    forged_token,
    graph_writes,
    run_cli,
    target_args,
)

COMMANDS = {
    "plan": ["plan"],
    "status": ["status"],
    "export": ["export"],
    "run": ["run", "--headless", "--yes", "--no-wait"],
}


@pytest.fixture
def sb(make_sandbox):
    return make_sandbox(users=20, seed=5, time_scale=FAST, synced_fraction=0)


def tenants_dir(state: Path) -> Path:
    return state / "tenants"


def no_tenant_folder(state: Path) -> bool:
    folder = tenants_dir(state)
    return not folder.exists() or not any(folder.iterdir())


# -- 1. the wrong tenant --------------------------------------------------------------------------


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_token_for_another_tenant_than_the_named_domain_changes_nothing(
    sb, tmp_path, monkeypatch, command
):
    state = tmp_path / "state"
    asked = "fabrikam.onmicrosoft.com"
    r = run_cli(
        [*COMMANDS[command], "--tenant", asked, *target_args(sb, state)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 5, r.text
    # Both tenants are named: what was asked, and what the token is for (id, domain, name).
    assert asked in r.err
    assert sb.tenant_id in r.err and sb.initial_domain in r.err
    assert sb.tenant.org.display_name in r.err
    assert "Traceback" not in r.text
    assert graph_writes(sb) == []
    assert sb.recorder.count(method="DELETE") == 0
    # Only /organization was read: no user list, no plan.
    assert {rec.path for rec in sb.recorder.records()} == {"/v1.0/organization"}
    assert no_tenant_folder(state)


def test_a_token_for_another_tenant_than_the_named_id_changes_nothing(
    sb, make_sandbox, tmp_path, monkeypatch
):
    other = make_sandbox(users=5, seed=9)
    assert other.tenant_id != sb.tenant_id
    state = tmp_path / "state"
    r = run_cli(
        [*COMMANDS["run"], "--json", "--tenant", other.tenant_id, *target_args(sb, state)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 5, r.text
    assert other.tenant_id in r.err and sb.tenant_id in r.err and sb.initial_domain in r.err
    assert graph_writes(sb) == [] and graph_writes(other) == []
    assert sb.recorder.count(method="DELETE") == 0
    assert no_tenant_folder(state)
    # JSON readers are told too: an error line, then the exit code.
    lines = r.json_lines()
    assert [o["event"] for o in lines] == ["error", "exit"]
    assert lines[-1]["code"] == 5 and other.tenant_id in lines[0]["message"]


def test_the_tenant_in_the_authority_counts_as_named(sb, tmp_path, monkeypatch):
    state = tmp_path / "state"
    args = target_args(sb, state)
    args[args.index("--authority") + 1] = f"{sb.base_url}/contoso-other.onmicrosoft.com"
    r = run_cli(["status", *args], monkeypatch=monkeypatch, token=sb.issue_token())
    assert r.code == 5, r.text
    assert "contoso-other.onmicrosoft.com" in r.err and sb.tenant_id in r.err
    assert no_tenant_folder(state)


@pytest.mark.parametrize("how", ["id", "ID", "initial domain", "custom domain", "Mixed Case"])
def test_the_named_tenant_by_any_of_its_names_proceeds(sb, tmp_path, monkeypatch, how):
    custom = sb.tenant.org.custom_domains[0]
    asked = {
        "id": sb.tenant_id,
        "ID": sb.tenant_id.upper(),
        "initial domain": sb.initial_domain,
        "custom domain": custom,
        "Mixed Case": sb.initial_domain.upper()[:3] + sb.initial_domain[3:],
    }[how]
    state = tmp_path / "state"
    r = run_cli(
        ["plan", "--json", "--tenant", asked, *target_args(sb, state)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 0, r.text
    assert json.loads(r.out)["tenant"]["id"] == sb.tenant_id
    assert (tenants_dir(state) / sb.tenant_id / "plan.json").exists()


def test_a_certificate_sign_in_to_another_tenant_is_refused(sb, tmp_path, monkeypatch):
    key, cert = make_cert()
    client_id = str(uuid.uuid4())
    register_app(
        sb, client_id, cert.public_bytes(serialization.Encoding.PEM), ALL_SCOPES - {"User.Read"}
    )
    pem = write_pem(tmp_path / "app.pem", key, cert)
    state = tmp_path / "state"
    r = run_cli(
        [
            *COMMANDS["run"],
            "--tenant",
            "fabrikam.onmicrosoft.com",
            "--certificate",
            str(pem),
            "--client-id",
            client_id,
            "--keep",
            sb.admin_upn,
            *target_args(sb, state),
        ],
        monkeypatch=monkeypatch,
        token="",  # no bring-your-own token: the certificate signs in
    )
    assert r.code == 5, r.text
    assert "fabrikam.onmicrosoft.com" in r.err and sb.tenant_id in r.err
    assert graph_writes(sb) == []
    assert no_tenant_folder(state)


# -- 2. a refused token is not a deleted tenant ----------------------------------------------------


@pytest.mark.parametrize("command", ["status", "run"])
def test_a_forged_tenant_id_is_a_rejected_token_not_a_deleted_tenant(
    sb, tmp_path, monkeypatch, command
):
    state = tmp_path / "state"
    forged = str(uuid.uuid4())
    r = run_cli(
        [*COMMANDS[command], *target_args(sb, state)],
        monkeypatch=monkeypatch,
        token=forged_token(sb, forged),
    )
    assert r.code == 5, r.text
    assert "token was rejected" in r.err
    assert "InvalidAuthenticationToken" in r.err  # Graph's own code, and its message
    assert "no longer exists" not in r.text and "deletion is confirmed" not in r.text
    assert no_tenant_folder(state)
    assert graph_writes(sb) == []


def test_a_token_of_another_sandbox_is_rejected(sb, make_sandbox, tmp_path, monkeypatch):
    other = make_sandbox(users=5, seed=9)
    state = tmp_path / "state"
    r = run_cli(
        ["status", *target_args(sb, state)], monkeypatch=monkeypatch, token=other.issue_token()
    )
    assert r.code == 5, r.text
    assert "token was rejected" in r.err and "no longer exists" not in r.text
    assert no_tenant_folder(state)


@pytest.mark.parametrize("command", ["status", "run"])
def test_a_token_that_sees_no_organization_is_refused_not_called_deleted(
    sb, tmp_path, monkeypatch, command
):
    # A token Graph accepts but that sees no organization (a personal account's, say): Graph
    # answers GET /organization with an empty list. That is no evidence of a deleted tenant.
    def no_organization(resp: Response) -> Response:
        return Response(resp.status, {**resp.body, "value": []}, dict(resp.headers))

    sb.add_fault(method="GET", path=r"^/v1\.0/organization", times=-1, rewrite=no_organization)
    state = tmp_path / "state"
    r = run_cli(
        [*COMMANDS[command], *target_args(sb, state)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 5, r.text
    assert "No organization is visible to this token" in r.err, r.text
    assert "deleted" not in r.text and "no longer exists" not in r.text, r.text
    assert no_tenant_folder(state)
    assert graph_writes(sb) == []


def test_a_deleted_tenant_never_reached_before_is_not_called_deleted(
    make_sandbox, tmp_path, monkeypatch
):
    sb = deletable_sandbox(make_sandbox)
    sb.delete_tenant()
    state = tmp_path / "state"
    r = run_cli(
        ["status", *target_args(sb, state)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert r.code == 5, r.text
    assert "token was rejected" in r.err and "no longer exists" not in r.text
    assert no_tenant_folder(state)


def test_a_deleted_tenant_reached_before_is_reported_gone(make_sandbox, tmp_path, monkeypatch):
    sb = deletable_sandbox(make_sandbox)
    state = tmp_path / "state"
    first = run_cli(
        ["plan", *target_args(sb, state)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert first.code == 0, first.text
    sb.delete_tenant()

    status = run_cli(
        ["status", *target_args(sb, state)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert status.code == 0, status.text
    assert "no longer exists" in status.err and sb.tenant_id in status.err
    run = run_cli(
        [*COMMANDS["run"], "--json", *target_args(sb, state)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert run.code == 0, run.text
    assert [o["event"] for o in run.json_lines()] == ["note", "exit"]
    assert sorted(p.name for p in tenants_dir(state).iterdir()) == [sb.tenant_id]


def test_graph_naming_a_reached_tenant_missing_is_not_enough_while_discovery_finds_it(
    sb, tmp_path, monkeypatch
):
    state = tmp_path / "state"
    first = run_cli(
        ["plan", *target_args(sb, state)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert first.code == 0, first.text
    sb.add_fault(
        method="GET",
        path="/organization",
        status=401,
        code="InvalidAuthenticationToken",
        message=f"The tenant for tenant guid '{sb.tenant_id}' does not exist.",
        times=-1,
    )
    r = run_cli(
        ["status", *target_args(sb, state)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert r.code == 5, r.text
    assert "token was rejected" in r.err and "no longer exists" not in r.text


# -- export --offline reads only local files: they must be the named tenant's ---------------------


def test_offline_export_finds_the_tenant_by_its_initial_domain(sb, tmp_path, monkeypatch):
    state = tmp_path / "state"
    assert (
        run_cli(
            ["plan", *target_args(sb, state)], monkeypatch=monkeypatch, token=sb.issue_token()
        ).code
        == 0
    )
    out = tmp_path / "pack"
    r = export_offline(sb.initial_domain.upper(), state, monkeypatch=monkeypatch, out=out)
    assert r.code == 0, r.text
    assert (out / "summary.json").exists()
    assert sorted(p.name for p in tenants_dir(state).iterdir()) == [sb.tenant_id]


def test_offline_export_refuses_a_plan_of_another_tenant(sb, make_sandbox, tmp_path, monkeypatch):
    other = make_sandbox(users=5, seed=9)
    state = tmp_path / "state"
    for tenant in (sb, other):
        assert (
            run_cli(
                ["plan", *target_args(tenant, state)],
                monkeypatch=monkeypatch,
                token=tenant.issue_token(),
            ).code
            == 0
        )
    # Someone copies the other tenant's saved plan over this one's.
    shutil.copy(
        tenants_dir(state) / other.tenant_id / "plan.json",
        tenants_dir(state) / sb.tenant_id / "plan.json",
    )
    out = tmp_path / "pack"
    r = export_offline(sb.tenant_id, state, monkeypatch=monkeypatch, out=out)
    assert r.code == 5, r.text
    assert sb.tenant_id in r.err and other.tenant_id in r.err
    assert not out.exists()


def test_offline_export_of_an_unknown_tenant_creates_no_folder(tmp_path, monkeypatch):
    state = tmp_path / "state"
    for name in (str(uuid.uuid4()), "nosuch.onmicrosoft.com"):
        r = export_offline(name, state, monkeypatch=monkeypatch)
        assert r.code == 2, r.text
        assert name in r.err
        assert no_tenant_folder(state)
