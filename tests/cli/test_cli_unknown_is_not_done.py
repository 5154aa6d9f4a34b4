"""What closeout cannot read is unknown, never done or off (graph-api.md §2.2, ORGGET).

A sign-in without Organization.Read.All (or any permission that reads the organization in full)
reads the organization's sync flag as null and is refused the subscriptions. ``status`` must say
that whether sync is on is unknown, and must not call the subscription steps done because the
list it could not read is empty. Real HTTP against the sandbox, as closeout's own CLI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services import endpoints
from services.sandbox.authz import ALL_SCOPES
from tests.support.cli_harness import run_cli, target_args

NO_ORGANIZATION = set(ALL_SCOPES) - set(endpoints.ORGANIZATION.full_read)
NO_ORGANIZATION -= {"Directory.AccessAsUser.All"}


def test_status_without_organization_read_says_unknown_not_off_and_not_done(
    make_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = make_sandbox(users=20, seed=3, synced_fraction=0.5)
    token = sb.issue_token(scopes=NO_ORGANIZATION)
    r = run_cli(
        ["status", "--json", *target_args(sb, tmp_path)], monkeypatch=monkeypatch, token=token
    )
    assert r.code == 5, r.text[-2000:]  # a permission is missing: named, nothing sent
    states = json.loads(r.out)
    assert states["1"]["status"] != "done"
    assert any("directory sync is on is unknown" in b for b in states["1"]["blockers"])
    for step in ("2", "3"):
        assert states[step]["status"] == "blocked", states[step]
        assert any("could not read subscriptions" in b for b in states[step]["blockers"])
    assert "Organization.Read.All" in r.err
    assert sb.recorder.writes() == []


def test_a_step_5_check_on_a_list_closeout_could_not_read_is_not_passed(
    make_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = make_sandbox(users=20, seed=3)
    no_apps = set(ALL_SCOPES) - {
        "Application.Read.All",
        "Application.ReadWrite.All",
        "Directory.Read.All",
        "Directory.ReadWrite.All",
        "Directory.AccessAsUser.All",
    }
    r = run_cli(
        ["status", "--json", *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(scopes=no_apps),
    )
    assert r.code == 5, r.text[-2000:]
    blockers = json.loads(r.out)["5"]["blockers"]
    for label in ("No applications", "No non-Microsoft service principals", "recycle bin"):
        (line,) = [b for b in blockers if label in b]
        assert "unknown: closeout could not read it (403" in line, line
    assert sb.recorder.writes() == []
