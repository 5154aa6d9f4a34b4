"""Permission and role checks the sandbox applies to Graph calls (graph-api.md §10).

Each route states the delegated scopes and application permissions that allow it, and for
delegated calls the directory roles the signed-in user must hold, as Graph's docs list them.
"""

from __future__ import annotations

from .http import GraphHttpError, Request
from .tenant import Tenant

FORBIDDEN_MESSAGE = "Insufficient privileges to complete the operation."

ALL_SCOPES = frozenset(
    {
        "User.Read",
        "User.Read.All",
        "User.ReadWrite.All",
        "User.DeleteRestore.All",
        "Directory.Read.All",
        "Directory.AccessAsUser.All",
        "Organization.Read.All",
        "Organization.ReadWrite.All",
        "RoleManagement.Read.Directory",
        "Policy.Read.All",
        "Policy.ReadWrite.AuthenticationMethod",
        "Policy.ReadWrite.SecurityDefaults",
        "Policy.ReadWrite.ConditionalAccess",
        "Application.Read.All",
        "Application.ReadWrite.All",
        "Reports.Read.All",
    }
)
"""The permissions a sandbox grants unless ``SandboxConfig.granted_scopes`` narrows them."""

READ_ME = (
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
)
"""``/me`` (user-get)."""
READ_MY_MEMBERSHIPS = (
    "User.Read",
    "User.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Group.Read.All",
    "GroupMember.Read.All",
    "Directory.AccessAsUser.All",
)
"""The signed-in user's own memberships (MEMBEROF)."""
READ_USERS = (
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
)
READ_DELETED_USERS = (*READ_USERS, "User.DeleteRestore.All")
"""User.DeleteRestore.All reads the recycle bin's users, not ``/users`` (WN)."""
READ_LICENSING = (
    "Organization.Read.All",
    "Organization.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
)
"""``/subscribedSkus`` and ``/directory/subscriptions`` (SKU, CSUB)."""
READ_ORG = (*READ_LICENSING, "User.Read")
"""``/organization``: User.Read is its least delegated permission (organization-get)."""
READ_ROLES = (
    "RoleManagement.Read.Directory",
    "RoleManagement.ReadWrite.Directory",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
)
READ_APPS = (
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
)
WRITE_APPS = ("Application.ReadWrite.All", "Directory.AccessAsUser.All")
WRITE_APPS_APPLICATION = ("Application.ReadWrite.All", "Application.ReadWrite.OwnedBy")
"""An application's permissions to write apps: OwnedBy for the ones it owns only."""
READ_SECURITY_DEFAULTS = ("Policy.Read.All", "Policy.ReadWrite.SecurityDefaults")
READ_CONDITIONAL_ACCESS = ("Policy.Read.All", "Policy.ReadWrite.ConditionalAccess")


def forbidden() -> GraphHttpError:
    return GraphHttpError(403, "Authorization_RequestDenied", FORBIDDEN_MESSAGE)


def need(
    req: Request,
    tenant: Tenant,
    *,
    delegated: tuple[str, ...],
    application: tuple[str, ...] = (),
    roles: tuple[str, ...] = (),
) -> None:
    """Raise 403 unless the caller's token and (for delegated calls) roles allow this."""
    p = req.principal
    if p is None:
        raise GraphHttpError(401, "InvalidAuthenticationToken", "Access token is empty.")
    if p.is_app_only:
        if not application or not p.has_permission(application):
            raise forbidden()
        return
    if not p.has_permission(delegated):
        raise forbidden()
    if roles and not tenant.has_role(p.user_id or "", *roles):
        raise forbidden()


def need_app_write(
    req: Request,
    tenant: Tenant,
    owners: list[str],
    *,
    roles: tuple[str, ...],
    delegated: tuple[str, ...] = WRITE_APPS,
) -> None:
    """Raise 403 unless the caller may change or delete an app or service principal owned by
    ``owners``.

    A signed-in user needs one of ``delegated`` and either one of ``roles`` or to be an owner:
    members with default user permissions and Application Developers manage the apps they
    own (APPDEL, SPDEL: rbac-application-apis-write; an owner has "the same permissions as
    application administrators, scoped to an individual application", APPOWNERS). An
    application needs ``Application.ReadWrite.All``, or ``Application.ReadWrite.OwnedBy`` with
    its own service principal among the owners: that permission "allows the same operations as
    Application.ReadWrite.All but only on applications and service principals that the calling
    app is an owner of" (PERMREF).
    """
    p = req.principal
    if p is None:
        raise GraphHttpError(401, "InvalidAuthenticationToken", "Access token is empty.")
    if p.is_app_only:
        if p.has_permission(("Application.ReadWrite.All",)):
            return
        if p.has_permission(("Application.ReadWrite.OwnedBy",)) and any(
            sp.app_id == p.app_id and sp.id in owners for sp in tenant.service_principals.values()
        ):
            return
        raise forbidden()
    if not p.has_permission(delegated):
        raise forbidden()
    if (p.user_id or "") in owners:
        return
    if not tenant.has_role(p.user_id or "", *roles):
        raise forbidden()


def caller_id(req: Request) -> str | None:
    return req.principal.user_id if req.principal and not req.principal.is_app_only else None
