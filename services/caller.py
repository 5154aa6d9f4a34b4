"""Who is signed in, to which tenant, with which roles and granted permissions (step 0).

The tenant is read first (``GET /organization``) and, when the admin named one, checked to be
that tenant before anything else is read (:mod:`services.tenant_match`).

Delegated sign-in: ``/me`` and ``/me/transitiveMemberOf/microsoft.graph.directoryRole`` (option A
of graph-api.md §1), falling back to role assignments on 403. App-only: no ``/me``; the token's
``roles`` claim lists the application permissions, and the accounts to keep must be named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import GraphError
from .graph import GraphClient
from .models import BILLING_ADMIN, GLOBAL_ADMIN, TenantInfo
from .tenant_match import check_tenant, initial_domain, organization_names

ROLE_NAMES = {
    GLOBAL_ADMIN: "Global Administrator",
    BILLING_ADMIN: "Billing Administrator",
}


@dataclass(frozen=True)
class Caller:
    tenant: TenantInfo
    role_ids: frozenset[str]
    permissions: frozenset[str]
    """Delegated scopes (``scp``) or, app-only, application permissions (``roles``)."""
    sync_enabled: bool | None = None
    domains: frozenset[str] = frozenset()
    """Every verified domain of the tenant, lower-cased."""

    @property
    def app_only(self) -> bool:
        return self.tenant.app_only

    @property
    def is_global_admin(self) -> bool:
        return GLOBAL_ADMIN in self.role_ids

    def has_any(self, *names: str) -> bool:
        return any(n in self.permissions for n in names)


def read_organization(client: GraphClient) -> dict[str, Any]:
    orgs = client.get(
        "/organization",
        params={"$select": "id,displayName,verifiedDomains,onPremisesSyncEnabled"},
    ).get("value", [])
    if not orgs:
        raise GraphError(
            404, "Request_ResourceNotFound", "No organization is visible to this token."
        )
    return orgs[0]


def my_role_ids(client: GraphClient, user_id: str) -> frozenset[str]:
    """Directory role template ids of the signed-in user, group-inherited ones included."""
    try:
        roles = client.get_all(
            "/me/transitiveMemberOf/microsoft.graph.directoryRole",
            params={"$select": "id,displayName,roleTemplateId", "$count": "true"},
            headers={"ConsistencyLevel": "eventual"},
        )
        return frozenset(str(r.get("roleTemplateId")) for r in roles if r.get("roleTemplateId"))
    except GraphError as exc:
        if exc.status != 403:
            raise
    assignments = client.get_all(
        "/roleManagement/directory/roleAssignments",
        params={"$filter": f"principalId eq '{user_id}'"},
    )
    return frozenset(str(a.get("roleDefinitionId")) for a in assignments)


def identify(
    client: GraphClient,
    claims: dict[str, Any],
    *,
    cloud: str,
    sandbox: bool = False,
    named: tuple[str, ...] = (),
) -> Caller:
    """Read the tenant and the caller. ``claims`` are the access token's (unverified) claims.

    ``named``: the tenants the admin named (id or domain); unless Graph's tenant is each of
    them, :class:`~services.tenant_match.TenantMismatch` is raised after that one read.
    """
    org = read_organization(client)
    check_tenant(named, org)
    app_only = claims.get("idtyp") == "app" or ("scp" not in claims and "roles" in claims)
    permissions = frozenset(
        claims.get("roles", []) if app_only else str(claims.get("scp", "")).split()
    )
    upn: str | None = None
    user_id: str | None = None
    role_ids: frozenset[str] = frozenset()
    if not app_only:
        me = client.get("/me", params={"$select": "id,userPrincipalName,displayName"})
        upn, user_id = me.get("userPrincipalName"), me.get("id")
        role_ids = my_role_ids(client, str(user_id))
    tenant = TenantInfo(
        id=str(org["id"]),
        display_name=str(org.get("displayName") or ""),
        initial_domain=initial_domain(org),
        cloud=cloud,
        signed_in_upn=upn,
        signed_in_id=user_id,
        app_only=app_only,
        sandbox=sandbox,
    )
    return Caller(
        tenant,
        role_ids,
        permissions,
        org.get("onPremisesSyncEnabled"),
        domains=organization_names(org)[1],
    )
