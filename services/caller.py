"""Who is signed in, to which tenant, with which roles and granted permissions (step 0).

The tenant is read first (``GET /organization``) and, when the admin named one, checked to be
that tenant before anything else is read (:mod:`services.tenant_match`).

Whether the caller is a user (delegated) or an application (app-only) is Graph's answer to
``/me``, not something read from the access token (clients must treat tokens as opaque): Graph
refuses ``/me`` for an app-only token. Delegated: ``/me`` and
``/me/transitiveMemberOf/microsoft.graph.directoryRole`` (option A of graph-api.md §1), falling
back to role assignments on 403. App-only: the accounts to keep must be named.

The granted permissions are what the sign-in reported (msal's token response) or unknown; a
readable token's claims are kept apart, as a hint for messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import endpoints
from .errors import AuthError, GraphError
from .graph.answers import UnexpectedAnswer, objects_in
from .graph.client import GraphClient
from .i18n import _
from .models import BILLING_ADMIN, GLOBAL_ADMIN, TenantInfo
from .tenant_match import check_tenant, initial_domain, organization_names

_APP_ONLY_ME = "only valid with delegated authentication flow"

ROLE_NAMES = {
    GLOBAL_ADMIN: "Global Administrator",
    BILLING_ADMIN: "Billing Administrator",
}


@dataclass(frozen=True)
class Caller:
    tenant: TenantInfo
    role_ids: frozenset[str]
    permissions: frozenset[str] | None
    """Granted delegated scopes as closeout's own sign-in reported them; None when unknown (a
    bring-your-own or app-only token: closeout learns from Graph's first 403 instead)."""
    sync_enabled: bool | None = None
    """The organization's ``onPremisesSyncEnabled``: true while synced, false once no longer,
    null if never synced (organization resource) or when the sign-in cannot read it."""
    domains: frozenset[str] = frozenset()
    """Every verified domain of the tenant, lower-cased."""
    permission_hint: frozenset[str] | None = None
    """What a readable token's claims say it carries: for messages only, never for a decision."""
    sync_unknown: bool = False
    """The flag read null from a read that could not show it (:func:`sync_unreadable`): whether
    directory sync is on is not known, which is never taken for off."""

    @property
    def app_only(self) -> bool:
        return self.tenant.app_only

    @property
    def is_global_admin(self) -> bool:
        return GLOBAL_ADMIN in self.role_ids


ORG_SELECT = "id,displayName,verifiedDomains,createdDateTime,onPremisesSyncEnabled"
"""``createdDateTime`` tells a full read from a limited one (:func:`sync_unreadable`)."""


def sync_unreadable(org: dict[str, Any], permissions: frozenset[str] | None) -> bool:
    """Whether a null ``onPremisesSyncEnabled`` in ``org`` says nothing about sync.

    Graph answers a caller with User.Read alone only id, displayName and verifiedDomains of
    the organization, "All other properties will return with null values" (ORGGET, graph-api.md
    §2.2): then a null flag is no evidence that sync was never on. Known permissions without a
    full-read one say so; so does a null ``createdDateTime`` (every organization has one), which
    also catches a token whose permissions closeout cannot know.
    """
    if isinstance(org.get("onPremisesSyncEnabled"), bool):
        return False
    full = endpoints.ORGANIZATION.full_read
    if permissions is not None and not any(p in permissions for p in full):
        return True
    return org.get("createdDateTime") is None


def read_organization(client: GraphClient) -> dict[str, Any]:
    """The tenant's organization object: every reader of ``GET /organization`` calls this one."""
    orgs = client.get_all(
        endpoints.ORGANIZATION.url(),
        params={"$select": ORG_SELECT},
    )
    if not orgs:
        # Graph accepted the token but shows it no tenant (a personal account's, say): a sign-in
        # problem, never evidence that a tenant was deleted (services.deletion_evidence).
        raise AuthError(
            _(
                "No organization is visible to this token: Graph answered GET /organization with "
                "an empty list."
            ),
            _(
                "sign in with a work or school account of the tenant you mean to close (a "
                "personal Microsoft account has no organization)"
            ),
        )
    # What names the tenant is checked before anything trusts it (services.tenant_match).
    objects_in(orgs[0].get("verifiedDomains"), "/organization", "verifiedDomains")
    return orgs[0]


def my_role_ids(client: GraphClient, user_id: str) -> frozenset[str]:
    """Directory role template ids of the signed-in user, group-inherited ones included."""
    try:
        roles = client.get_all(
            endpoints.MY_ROLES.url(),
            params={"$select": "id,displayName,roleTemplateId", "$count": "true"},
            headers={"ConsistencyLevel": "eventual"},
        )
        return frozenset(str(r.get("roleTemplateId")) for r in roles if r.get("roleTemplateId"))
    except GraphError as exc:
        if exc.status != 403:
            raise
    assignments = client.get_all(
        endpoints.ROLE_ASSIGNMENTS.url(),
        params={"$filter": f"principalId eq '{user_id}'"},
    )
    return frozenset(str(a.get("roleDefinitionId")) for a in assignments)


def read_me(client: GraphClient) -> dict[str, Any] | None:
    """The signed-in user, or None when the token is an application's (app-only).

    Graph answers ``/me`` for an app-only token with ``400 BadRequest`` "/me request is only
    valid with delegated authentication flow." (reported verbatim in
    microsoftgraph/msgraph-sdk-php#1163); a 403 with the same words is taken the same way.
    Anything else (a 403 for a delegated token without ``User.Read``) is an error.
    """
    try:
        return client.get(
            endpoints.ME.url(), params={"$select": "id,userPrincipalName,displayName"}
        )
    except GraphError as exc:
        if exc.status in (400, 403) and _APP_ONLY_ME in exc.message.lower():
            return None
        raise


def identify(
    client: GraphClient,
    *,
    permissions: frozenset[str] | None,
    cloud: str,
    sandbox: bool = False,
    named: tuple[str, ...] = (),
    permission_hint: frozenset[str] | None = None,
) -> Caller:
    """Read the tenant and the caller; ``permissions`` as the sign-in reported them, or None.

    ``named``: the tenants the admin named (id or domain); unless Graph's tenant is each of
    them, :class:`~services.tenant_match.TenantMismatch` is raised after that one read.
    """
    org = read_organization(client)
    check_tenant(named, org)
    me = read_me(client)
    app_only = me is None
    upn: str | None = None
    user_id: str | None = None
    role_ids: frozenset[str] = frozenset()
    if me is not None:
        upn, user_id = me.get("userPrincipalName"), me.get("id")
        if not isinstance(user_id, str) or not user_id or not isinstance(upn, str | None):
            raise UnexpectedAnswer("/me", _("the signed-in user has no id or no text name"))
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
        sync if isinstance(sync := org.get("onPremisesSyncEnabled"), bool) else None,
        domains=organization_names(org)[1],
        permission_hint=permission_hint,
        sync_unknown=sync_unreadable(org, permissions),
    )
