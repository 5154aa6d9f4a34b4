"""Step 5 with an application's own permissions (issue 7, app owners): Application.ReadWrite.OwnedBy
reaches only the apps the calling app owns, so a close-out signed in with it can delete only
those; closeout must say what it needs and never call the cleanup done. With
Application.ReadWrite.All the same run clears every app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.sandbox import Sandbox
from services.sandbox.authz import ALL_SCOPES
from services.sandbox.tenant import OWN_APP_ID
from tests.support.cli_harness import full_run_args, run_cli, straight_to_step5

pytestmark = pytest.mark.slow


def _tenant(make_sandbox: Any) -> tuple[Sandbox, str]:
    """A small tenant that closeout's own app is registered in, owning one other app."""
    sb = straight_to_step5(
        make_sandbox, users=8, seed=6, third_party_service_principals=1, behaviours="own-app"
    )
    own_sp = next(sp for sp in sb.tenant.service_principals.values() if sp.app_id == OWN_APP_ID)
    with sb.lock:
        first = next(a for a in sb.tenant.applications.values() if a.app_id != OWN_APP_ID)
        first.owners.append(own_sp.id)
    return sb, first.id


def _run(sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, roles: set[str]) -> Any:
    admin = sb.tenant.users.get(sb.admin_id)
    assert admin is not None
    argv = [*full_run_args(sb, tmp_path), "--keep", admin.user_principal_name, "--no-wait"]
    return run_cli(
        argv, monkeypatch=monkeypatch, token=sb.issue_app_token(roles=roles, app_id=OWN_APP_ID)
    )


def _others(sb: Sandbox) -> set[str]:
    """Apps and non-Microsoft service principals in the tenant, closeout's own left out."""
    t = sb.tenant
    apps = {a.id for a in t.applications.values() if a.app_id != OWN_APP_ID}
    sps = {
        s.id for s in t.service_principals.values() if not s.is_microsoft and s.app_id != OWN_APP_ID
    }
    return apps | sps


def test_owned_by_alone_deletes_only_the_owned_app_and_says_what_is_needed(
    make_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb, owned = _tenant(make_sandbox)
    before = _others(sb)
    roles = (set(ALL_SCOPES) - {"User.Read", "Application.ReadWrite.All"}) | {
        "Application.ReadWrite.OwnedBy"
    }
    r = _run(sb, tmp_path, monkeypatch, roles)
    # Refused, not failed and never done: exit 5, naming what the app needs and why.
    assert r.code == 5, r.text[-3000:]
    assert "Traceback" not in r.text
    (error,) = [o for o in _lines(r) if o["event"] == "error"]
    assert "Application.ReadWrite.All" in error["hint"]
    assert "Application.ReadWrite.OwnedBy reaches only the apps it owns" in error["hint"]
    assert not [
        o for o in _lines(r) if o["event"] == "step" and o["step"] == 5 and o["status"] == "done"
    ]
    # The app it owns went; every other app and service principal is where it was.
    assert owned not in _others(sb) and owned in sb.tenant.deleted_applications
    left = _others(sb)
    assert left and left == before - {owned} - _sps_of(sb, owned)


def test_read_write_all_clears_every_app_but_its_own(
    make_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb, _owned = _tenant(make_sandbox)
    r = _run(sb, tmp_path, monkeypatch, set(ALL_SCOPES) - {"User.Read"})
    assert r.code in (0, 3), r.text[-3000:]
    assert not [o for o in _lines(r) if o["event"] == "error"]
    assert _others(sb) == set()
    t = sb.tenant
    assert (len(t.deleted_applications), len(t.deleted_service_principals)) == (0, 0)


def _lines(r: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in r.out.splitlines() if line.startswith("{")]


def _sps_of(sb: Sandbox, app_id: str) -> set[str]:
    t = sb.tenant
    app = t.deleted_applications.get(app_id)
    assert app is not None
    return {s.id for s in t.deleted_service_principals.values() if s.app_id == app.app_id}
