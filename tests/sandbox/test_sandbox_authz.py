"""Who may do what in the sandbox, as Graph's reference pages say (graph-api.md §2.4, §6.2, §10):
the recycle bin's query rules and purge roles, app owners, and the roles the docs leave open.
Real HTTP to the sandbox on loopback; no client library."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from services.sandbox import Sandbox
from services.sandbox.tenant import PRIV_AUTH_ADMIN, USER_ADMIN

CASTS = ("microsoft.graph.user", "microsoft.graph.application", "microsoft.graph.servicePrincipal")


def session(sb: Sandbox, **kw: Any) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {sb.issue_token(**kw)}"
    return s


def member_with(sb: Sandbox, role: str | None) -> str:
    """The UPN of a plain cloud member holding ``role`` (or none) from now on."""
    t = sb.tenant
    with sb.lock:
        user = next(
            u
            for u in t.users.values()
            if u.id != sb.admin_id
            and u.user_type == "Member"
            and not u.synced
            and not t.roles_of(u.id)
        )
        if role is not None:
            t.roles[role].members.append(user.id)
    return user.user_principal_name


# -- the recycle bin ------------------------------------------------------------------------------


@pytest.mark.parametrize("cast", CASTS)
def test_every_recycle_bin_list_keeps_the_lists_query_rules(sandbox: Sandbox, cast: str) -> None:
    """DILIST: no $skip; $orderby only in advanced query mode (ConsistencyLevel + $count)."""
    s = session(sandbox)
    url = f"{sandbox.base_url}/v1.0/directory/deletedItems/{cast}"
    assert s.get(url).status_code == 200
    assert s.get(url, params={"$skip": "1"}).status_code == 400
    plain = s.get(url, params={"$orderby": "deletedDateTime"})
    assert plain.status_code == 400 and plain.json()["error"]["code"] == "Request_UnsupportedQuery"
    advanced = s.get(
        url,
        params={"$orderby": "deletedDateTime", "$count": "true"},
        headers={"ConsistencyLevel": "eventual"},
    )
    assert advanced.status_code == 200


def test_only_a_user_administrator_purges_a_deleted_user(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    """DIDEL's rbac include: "To permanently delete deleted users: User Administrator" (a
    Global Administrator holds every role); the Privileged Authentication Administrator that
    user-delete admits is not named for the purge."""
    sandbox = make_sandbox(users=60, seed=3, deleted_users=3)
    base = sandbox.base_url
    binned = [u.id for u in sandbox.tenant.deleted_users.values()]
    assert len(binned) >= 2
    paa = session(sandbox, upn=member_with(sandbox, PRIV_AUTH_ADMIN))
    refused = paa.delete(f"{base}/v1.0/directory/deletedItems/{binned[0]}")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "Authorization_RequestDenied"
    assert binned[0] in sandbox.tenant.deleted_users
    user_admin = session(sandbox, upn=member_with(sandbox, USER_ADMIN))
    assert user_admin.delete(f"{base}/v1.0/directory/deletedItems/{binned[0]}").status_code == 204
    assert session(sandbox).delete(f"{base}/v1.0/directory/deletedItems/{binned[1]}").ok
