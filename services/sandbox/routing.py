"""Every endpoint the sandbox serves, in one table: Graph, identity and sandbox-only control.

Each row names a method, a path pattern (``{name}`` matches one segment) and a handler: a
module-level function ``handler(sb, req) -> Response`` in :mod:`.graph_api`, :mod:`.identity`
or :mod:`.control_api` that takes the :class:`~.core.Sandbox` explicitly. Handlers find the
tenant, clock and recorder on ``sb``, who is calling on ``req.principal``, and the sandbox's
behaviour switches (the ways Graph may answer where graph-api.md is unconfirmed) on
``sb.config``: a new switch is a field in the "Behaviour switches" section of
:class:`~.config.SandboxConfig`, read by the handler it changes, with no other plumbing.

Where two patterns match one path with as many parameters, the row listed first wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING

from . import control_api
from .graph_api import (
    applications,
    directory_roles,
    json_batch,
    licensing,
    organization,
    per_user_mfa,
    policies,
    recycle_bin,
    reports,
    user_accounts,
)
from .http import Request, Response, Router
from .identity import device_code_flow, discovery, signin_pages, token_endpoint

if TYPE_CHECKING:
    from .core import Sandbox

# None: drop the connection without an answer (a $batch whose item was dropped).
SandboxHandler = Callable[["Sandbox", Request], "Response | None"]
GRAPH_VERSIONS = ("/v1.0", "/beta")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: SandboxHandler
    writes: bool | None = None
    """Whether a call counts as a write; None: POST, PATCH, PUT and DELETE do."""


def _in_each_version(*endpoints: Endpoint) -> tuple[Endpoint, ...]:
    return tuple(replace(e, path=v + e.path) for v in GRAPH_VERSIONS for e in endpoints)


E = Endpoint
_ROLE_CAST = "microsoft.graph.directoryRole"
_MFA = "/users/{id}/authentication/requirements"

GRAPH: tuple[Endpoint, ...] = (
    *_in_each_version(
        E("GET", "/users", user_accounts.list_users),
        E("GET", "/users/$count", user_accounts.count_users),
        E("GET", "/users/{id}", user_accounts.get_user),
        E("DELETE", "/users/{id}", user_accounts.delete_user),
        E("PATCH", "/users/{id}", user_accounts.patch_user),
        E("GET", "/me", user_accounts.me),
        E("GET", f"/me/transitiveMemberOf/{_ROLE_CAST}", directory_roles.my_roles),
        E("GET", f"/me/memberOf/{_ROLE_CAST}", directory_roles.my_roles),
        E("GET", f"/users/{{id}}/transitiveMemberOf/{_ROLE_CAST}", directory_roles.user_roles),
        E("GET", f"/users/{{id}}/memberOf/{_ROLE_CAST}", directory_roles.user_roles),
        E("GET", "/directoryRoles", directory_roles.list_roles),
        # Before /directoryRoles/{id}/members, which matches the same paths.
        E(
            "GET",
            "/directoryRoles/roleTemplateId={tid}/members",
            directory_roles.role_members_by_template,
        ),
        E(
            "GET",
            "/directoryRoles(roleTemplateId='{tid}')/members",
            directory_roles.role_members_by_template,
        ),
        E("GET", "/directoryRoles/{id}/members", directory_roles.role_members),
        E("GET", "/roleManagement/directory/roleAssignments", directory_roles.role_assignments),
        E("GET", "/directory/deletedItems", recycle_bin.deleted_items_without_cast),
        E("GET", "/directory/deletedItems/microsoft.graph.user", recycle_bin.list_deleted_users),
        E("GET", "/directory/deletedItems/{id}", recycle_bin.get_deleted),
        E("DELETE", "/directory/deletedItems/{id}", recycle_bin.purge),
        E("GET", "/organization", organization.list_org),
        E("GET", "/organization/{id}", organization.get_org),
        E("PATCH", "/organization/{id}", organization.patch_org),
        E("GET", "/subscribedSkus", licensing.subscribed_skus),
        E("GET", "/directory/subscriptions", licensing.list_subscriptions),
        E("GET", "/directory/subscriptions/{id}", licensing.get_subscription),
        E("GET", "/policies/identitySecurityDefaultsEnforcementPolicy", policies.get_secdef),
        E("PATCH", "/policies/identitySecurityDefaultsEnforcementPolicy", policies.patch_secdef),
        E("GET", "/identity/conditionalAccess/policies", policies.list_ca),
        E("GET", "/identity/conditionalAccess/policies/{id}", policies.get_ca),
        E("PATCH", "/identity/conditionalAccess/policies/{id}", policies.patch_ca),
        E("GET", "/applications", applications.list_apps),
        E("GET", "/applications/$count", applications.count_apps),
        E("GET", "/applications/{id}", applications.get_app),
        E("DELETE", "/applications/{id}", applications.delete_app),
        E("GET", "/applications/{id}/owners", applications.list_app_owners),
        E(
            "GET",
            "/directory/deletedItems/microsoft.graph.application",
            recycle_bin.list_deleted_apps,
        ),
        E(
            "GET",
            "/directory/deletedItems/microsoft.graph.servicePrincipal",
            recycle_bin.list_deleted_sps,
        ),
        E("GET", "/servicePrincipals", applications.list_sps),
        E("GET", "/servicePrincipals/{id}", applications.get_sp),
        E("DELETE", "/servicePrincipals/{id}", applications.delete_sp),
        E("PATCH", "/servicePrincipals/{id}", applications.patch_sp),
    ),
    # Per-user MFA is beta only; v1.0 answers as Graph does for a beta-only API.
    E("GET", f"/beta{_MFA}", per_user_mfa.get_mfa),
    E("PATCH", f"/beta{_MFA}", per_user_mfa.patch_mfa),
    E("GET", f"/v1.0{_MFA}", per_user_mfa.mfa_on_v1),
    E("PATCH", f"/v1.0{_MFA}", per_user_mfa.mfa_on_v1),
    # Usage reports: a 302 to a download URL that needs no token (served below, not as Graph).
    *_in_each_version(E("GET", "/reports/{function}", reports.report)),
    # The envelope is not a write itself: each request inside it is counted on its own.
    *(E("POST", f"{v}/$batch", json_batch.handle_batch, writes=False) for v in GRAPH_VERSIONS),
)

IDENTITY: tuple[Endpoint, ...] = (
    E("GET", "/{tenant}/v2.0/.well-known/openid-configuration", discovery.openid_configuration),
    E("GET", "/{tenant}/discovery/v2.0/keys", discovery.keys),
    E("GET", "/{tenant}/oauth2/v2.0/authorize", signin_pages.authorize),
    E("POST", "/{tenant}/oauth2/v2.0/devicecode", device_code_flow.devicecode),
    E("POST", "/{tenant}/oauth2/v2.0/token", token_endpoint.token),
    E("GET", "/devicelogin", signin_pages.devicelogin_page),
    E("POST", "/devicelogin", signin_pages.devicelogin_submit),
    # A usage report's preauthenticated download URL (reports.office.com's part).
    E("GET", f"{reports.DOWNLOAD_PATH}/{{key}}", reports.download),
)

CONTROL: tuple[Endpoint, ...] = (
    E("GET", "/_sandbox/state", control_api.state),
    E("GET", "/_sandbox/stats", control_api.stats),
    E("POST", "/_sandbox/subscriptions/{id}/cancel", control_api.cancel_subscription),
    E("POST", "/_sandbox/subscriptions/{id}/delete", control_api.delete_subscription),
    E("POST", "/_sandbox/manual/{key}/resolve", control_api.resolve_manual),
    E("POST", "/_sandbox/self-service/{id}/delete", control_api.delete_self_service_product),
    E("POST", "/_sandbox/applications/{id}/delete", control_api.portal_delete_application),
    E(
        "POST",
        "/_sandbox/servicePrincipals/{id}/delete",
        control_api.portal_delete_service_principal,
    ),
    E("POST", "/_sandbox/tenant/delete", control_api.delete_tenant),
    E("POST", "/_sandbox/clock/advance", control_api.advance_clock),
    E("POST", "/_sandbox/faults", control_api.add_fault),
    E("DELETE", "/_sandbox/faults", control_api.clear_faults),
    E("POST", "/_sandbox/tokens", control_api.issue_token),
    E("POST", "/_sandbox/tokens/revoke", control_api.revoke_token),
    E("GET", "/_sandbox/devicelogin", control_api.pending_sign_ins),
    E("POST", "/_sandbox/devicelogin", control_api.decide_sign_in),
)


def _router(sb: Sandbox, endpoints: tuple[Endpoint, ...]) -> Router:
    router = Router()
    for e in endpoints:
        router.add(e.method, e.path, partial(e.handler, sb), writes=e.writes)
    return router


def build_routers(sb: Sandbox) -> tuple[Router, Router, Router]:
    """The Graph, identity and control routers, bound to this sandbox."""
    return _router(sb, GRAPH), _router(sb, IDENTITY), _router(sb, CONTROL)
