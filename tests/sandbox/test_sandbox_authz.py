"""Who may do what in the sandbox, as Graph's reference pages say (graph-api.md §2.4, §6.2, §10):
the recycle bin's query rules and purge roles, app owners, and the roles the docs leave open.
Real HTTP to the sandbox on loopback; no client library."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from services.sandbox import Sandbox
from services.sandbox.tenant import (
    APP_ADMIN,
    APP_DEVELOPER,
    AUTH_POLICY_ADMIN,
    OWN_APP_ID,
    PRIV_AUTH_ADMIN,
    SECURITY_ADMIN,
    USER_ADMIN,
)

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
            and not any(u.id in a.owners for a in t.applications.values())
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


# -- app owners -----------------------------------------------------------------------------------


def test_seeded_apps_have_owners_served_as_graph_serves_them(sandbox: Sandbox) -> None:
    """application-list-owners: directoryObjects under Application.Read.All; an owner of a type
    the caller may not read comes back with its id and type only."""
    t = sandbox.tenant
    apps = list(t.applications.values())
    assert apps and all(len(a.owners) == 1 for a in apps)
    app = apps[0]
    (owner_id,) = app.owners
    owner = t.users.get(owner_id)
    assert owner is not None and not t.roles_of(owner_id) and owner_id != sandbox.admin_id
    url = f"{sandbox.base_url}/v1.0/applications/{app.id}/owners"
    full = session(sandbox).get(url).json()["value"]
    assert [(o["@odata.type"], o["id"], o["userPrincipalName"]) for o in full] == [
        ("#microsoft.graph.user", owner_id, owner.user_principal_name)
    ]
    apps_only = session(sandbox, scopes={"Application.Read.All"}).get(url)
    assert apps_only.status_code == 200
    (limited,) = apps_only.json()["value"]
    assert limited["id"] == owner_id and limited["userPrincipalName"] is None
    assert session(sandbox, scopes={"User.Read.All"}).get(url).status_code == 403


def test_an_owner_deletes_the_app_they_own_and_no_other(sandbox: Sandbox) -> None:
    """APPDEL (rbac-application-apis-write): a member with default user permissions or an
    Application Developer acts on the apps they own; without an admin role, on no other."""
    t = sandbox.tenant
    base = sandbox.base_url
    mine, theirs, third = list(t.applications.values())[:3]
    owner = t.users.get(mine.owners[0])
    assert owner is not None and owner.id not in theirs.owners
    s = session(sandbox, upn=owner.user_principal_name, scopes={"Application.ReadWrite.All"})
    assert s.delete(f"{base}/v1.0/applications/{theirs.id}").status_code == 403
    assert theirs.id in t.applications
    assert s.delete(f"{base}/v1.0/applications/{mine.id}").status_code == 204
    assert mine.id in t.deleted_applications
    # The Application Developer role adds nothing for an app one does not own.
    developer = session(sandbox, upn=member_with(sandbox, APP_DEVELOPER))
    assert developer.delete(f"{base}/v1.0/applications/{third.id}").status_code == 403
    # Owning it is not enough without the delegated permission.
    third_owner = t.users.get(third.owners[0])
    assert third_owner is not None
    unconsented = session(sandbox, upn=third_owner.user_principal_name, scopes={"User.Read"})
    assert unconsented.delete(f"{base}/v1.0/applications/{third.id}").status_code == 403
    # Purging from the recycle bin names roles only (DIROLES): the owner may not.
    assert s.delete(f"{base}/v1.0/directory/deletedItems/{mine.id}").status_code == 403


def test_owned_by_reaches_only_the_apps_the_calling_app_owns(make_sandbox: Any) -> None:
    """PERMREF: Application.ReadWrite.OwnedBy "allows the same operations as
    Application.ReadWrite.All but only on applications and service principals that the
    calling app is an owner of"; Application.ReadWrite.All reaches every one."""
    sb = make_sandbox(users=20, seed=4, behaviours="own-app")
    t = sb.tenant
    base = sb.base_url
    own_sp = next(sp for sp in t.service_principals.values() if sp.app_id == OWN_APP_ID)
    owned, other = [a for a in t.applications.values() if a.app_id != OWN_APP_ID][:2]
    vendor = next(
        sp
        for sp in t.service_principals.values()
        if sp.delete_behaviour == "ok"
        and not sp.is_microsoft
        and sp.app_id != OWN_APP_ID
        and sp.app_owner_organization_id != t.org.id
    )
    with sb.lock:
        owned.owners.append(own_sp.id)
        vendor.owners.append(own_sp.id)
    roles = {"Application.ReadWrite.OwnedBy", "Application.Read.All"}
    app_s = requests.Session()
    app_s.headers["Authorization"] = f"Bearer {sb.issue_app_token(roles=roles, app_id=OWN_APP_ID)}"
    assert app_s.get(f"{base}/v1.0/applications").status_code == 200  # it lists them all
    assert app_s.delete(f"{base}/v1.0/applications/{other.id}").status_code == 403
    assert (
        app_s.patch(
            f"{base}/v1.0/servicePrincipals/{vendor.id}", json={"accountEnabled": False}
        ).status_code
        == 204
    )
    assert app_s.delete(f"{base}/v1.0/servicePrincipals/{vendor.id}").status_code == 204
    assert app_s.delete(f"{base}/v1.0/applications/{owned.id}").status_code == 204
    assert app_s.delete(f"{base}/v1.0/directory/deletedItems/{owned.id}").status_code == 204
    assert session(sb).delete(f"{base}/v1.0/applications/{other.id}").status_code == 204
    refused = app_s.delete(f"{base}/v1.0/directory/deletedItems/{other.id}")
    assert refused.status_code == 403 and other.id in t.deleted_applications
    everything = requests.Session()
    everything.headers["Authorization"] = "Bearer " + sb.issue_app_token(
        roles={"Application.ReadWrite.All"}, app_id=OWN_APP_ID
    )
    assert everything.delete(f"{base}/v1.0/directory/deletedItems/{other.id}").status_code == 204


# -- roles the docs leave open: each way -------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "paa_may"), [("mfa-write-policy-admin", False), ("mfa-write-paa-too", True)]
)
def test_whether_a_privileged_authentication_admin_sets_per_user_mfa_is_a_switch(
    make_sandbox: Callable[..., Sandbox], behaviour: str, paa_may: bool
) -> None:
    sb = make_sandbox(users=20, seed=3, behaviours=behaviour)
    target = next(u for u in sb.tenant.users.values() if u.user_type == "Guest")
    url = f"{sb.base_url}/beta/users/{target.id}/authentication/requirements"
    body = {"perUserMfaState": "enforced"}
    paa = session(sb, upn=member_with(sb, PRIV_AUTH_ADMIN))
    assert paa.patch(url, json=body).status_code == (204 if paa_may else 403)
    policy_admin = session(sb, upn=member_with(sb, AUTH_POLICY_ADMIN))
    assert policy_admin.patch(url, json={"perUserMfaState": "disabled"}).status_code == 204
    assert session(sb).patch(url, json=body).status_code == 204  # a Global Administrator


@pytest.mark.parametrize(
    ("behaviour", "app_admins_may"),
    [("sp-disable-app-admins", True), ("sp-disable-ga-only", False)],
)
def test_who_turns_a_service_principal_off_is_a_switch(
    make_sandbox: Callable[..., Sandbox], behaviour: str, app_admins_may: bool
) -> None:
    sb = make_sandbox(users=20, seed=3, behaviours=behaviour)
    vendor = next(sp for sp in sb.tenant.service_principals.values() if not sp.is_microsoft)
    url = f"{sb.base_url}/v1.0/servicePrincipals/{vendor.id}"
    for role in (SECURITY_ADMIN, APP_ADMIN):
        admin = session(sb, upn=member_with(sb, role))
        refused_or_not = admin.patch(url, json={"accountEnabled": False}).status_code
        assert refused_or_not == (204 if app_admins_may else 403), role
    assert session(sb).patch(url, json={"accountEnabled": False}).status_code == 204
    assert vendor.account_enabled is False
