"""Roles Microsoft's pages leave open (graph-api.md §5.1, §6.2, §13): the sandbox answers each
way, and closeout ends the same under both, because it counts on the documented roles only.

- ``mfa-write-paa-too``: a Privileged Authentication Administrator may or may not set per-user
  MFA; closeout asks for a Global Administrator either way and, signed in as the former, stops
  before sending anything, naming the role.
- ``sp-disable-ga-only``: who may turn a service principal off is not documented; step 5 runs
  as a Global Administrator and turns off what refused deletion under either reading.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.sandbox import Sandbox
from services.sandbox.tenant import PRIV_AUTH_ADMIN
from tests.support.cli_harness import full_run_args, graph_writes, run_cli, straight_to_step5

pytestmark = pytest.mark.slow


def _small(make_sandbox: Any, behaviour: str) -> Sandbox:
    return straight_to_step5(make_sandbox, behaviours=behaviour)


@pytest.mark.parametrize("behaviour", ["mfa-write-policy-admin", "mfa-write-paa-too"])
def test_a_privileged_authentication_admin_is_told_what_is_needed_either_way(
    make_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, behaviour: str
) -> None:
    sb = _small(make_sandbox, behaviour)
    t = sb.tenant
    paa = next(u for u in t.users.values() if u.user_type == "Member" and u.id != sb.admin_id)
    with sb.lock:
        t.roles[PRIV_AUTH_ADMIN].members.append(paa.id)
    r = run_cli(
        [*full_run_args(sb, tmp_path), "--no-wait"],
        monkeypatch=monkeypatch,
        token=sb.issue_token(upn=paa.user_principal_name),
    )
    assert r.code == 5, r.text[-2000:]
    assert "Global Administrator" in r.text and "Traceback" not in r.text
    assert graph_writes(sb) == []


@pytest.mark.parametrize("behaviour", ["sp-disable-app-admins", "sp-disable-ga-only"])
def test_step_5_turns_off_what_refuses_deletion_under_either_reading(
    make_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, behaviour: str
) -> None:
    sb = _small(make_sandbox, behaviour)
    refusing = [
        sp
        for sp in sb.tenant.service_principals.values()
        if not sp.is_microsoft and sp.delete_behaviour == "refuse"
    ]
    assert refusing
    r = run_cli(
        [*full_run_args(sb, tmp_path), "--no-wait"], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert r.code in (0, 3), r.text[-3000:]
    assert all(sp.account_enabled is False for sp in refusing)
    disabled = [
        w for w in graph_writes(sb) if w.method == "PATCH" and "/servicePrincipals/" in w.path
    ]
    assert len(disabled) == len(refusing) and all(w.status == 204 for w in disabled)
