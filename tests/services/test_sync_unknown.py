"""Directory sync that closeout cannot read is unknown, never off (graph-api.md §2.2, ORGGET).

``GET /organization`` under User.Read alone answers id, displayName and verifiedDomains, every
other property null; a null ``onPremisesSyncEnabled`` then says nothing. The sandbox answers so
over real HTTP; closeout must ask for a permission that reads it and plan as if sync may be on.
"""

from __future__ import annotations

from collections.abc import Callable

from services import endpoints, requirements
from services.auth.scopes import READ_ONLY_SCOPES, RUN_SCOPES
from services.auth.static_token import StaticTokenAuth
from services.caller import Caller, identify, sync_unreadable
from services.graph.client import GraphClient
from services.models import StepId
from services.sandbox import Sandbox
from services.sandbox.authz import ALL_SCOPES
from services.steps import dirsync
from services.steps.registry import STEPS

FULL_READ = set(endpoints.ORGANIZATION.full_read)
NO_ORGANIZATION = frozenset(ALL_SCOPES - FULL_READ - {"Directory.AccessAsUser.All"})
"""Everything but what reads the organization in full (User.Read, User.Read.All, … remain)."""


def _caller(sb: Sandbox, scopes: frozenset[str], *, known: bool) -> Caller:
    token = StaticTokenAuth(sb.issue_token(scopes=set(scopes)))
    with GraphClient(sb.base_url, token) as client:
        return identify(client, permissions=scopes if known else None, cloud="global", sandbox=True)


def test_a_null_flag_from_a_limited_read_is_unknown_and_from_a_full_read_never_synced(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    synced = make_sandbox(users=20, seed=3, synced_fraction=0.5)
    limited = _caller(synced, NO_ORGANIZATION, known=False)  # an opaque token's: not known
    assert (limited.sync_enabled, limited.sync_unknown) == (None, True)
    full = _caller(synced, frozenset(ALL_SCOPES), known=False)
    assert (full.sync_enabled, full.sync_unknown) == (True, False)
    never = make_sandbox(users=20, seed=3, synced_fraction=0)
    cloud_only = _caller(never, frozenset(ALL_SCOPES), known=True)
    assert (cloud_only.sync_enabled, cloud_only.sync_unknown) == (None, False)


def test_known_permissions_without_a_full_read_leave_a_null_flag_unknown() -> None:
    full_read = {"id": "t", "createdDateTime": "2021-03-01T09:00:00Z"}
    assert not sync_unreadable({**full_read, "onPremisesSyncEnabled": None}, None)
    assert sync_unreadable({**full_read, "onPremisesSyncEnabled": None}, frozenset({"User.Read"}))
    assert not sync_unreadable({**full_read, "onPremisesSyncEnabled": False}, frozenset())
    assert sync_unreadable({"id": "t", "createdDateTime": None}, None)


def test_unknown_sync_asks_for_what_reads_it_and_for_what_turns_it_off(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sb = make_sandbox(users=20, seed=3, synced_fraction=0.5)
    caller = _caller(sb, NO_ORGANIZATION, known=True)
    missing = requirements.missing_for(caller, STEPS)
    names = {(m.step, m.name) for m in missing if m.kind == "permission"}
    read = " or ".join(endpoints.ORGANIZATION.full_read)
    assert (StepId.PREPARE, read) in names
    # Sync may be on: turning it off is step 1's need, as for a tenant that reads synced.
    assert any(
        step == StepId.DELETE_USERS and "Organization.ReadWrite.All" in name for step, name in names
    ), names
    # One line for the four permissions, however each row orders them, with both reasons.
    organization = [m for m in missing if m.step == StepId.PREPARE and "Organization." in m.name]
    assert [(m.name, m.why) for m in organization] == [
        (read, "read whether directory sync is on; read the organization and its subscriptions")
    ]
    # A sign-in that got what closeout asks for reads the flag in full.
    for asked in (READ_ONLY_SCOPES, RUN_SCOPES):
        assert FULL_READ & set(asked), asked


def test_step_1_says_sync_is_unknown_rather_than_off() -> None:
    text = dirsync.unknown_text()
    assert "Organization.Read.All" in text and "unknown" in text
    assert "does not take that for off" in text
