"""Graph's app registrations and service principals: list, count, delete, and turning a service
principal off (graph-api.md §6). Some service principals refuse deletion, as Microsoft's own
and those with dependants do.

Deleting either moves it to the recycle bin (``sp_soft_delete``: service principals too, as
Graph documents), and an app whose registration or service principal leaves the tenant can no
longer sign in there: its tokens stop working at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from services.sandbox import odata
from services.sandbox.authz import (
    READ_APPS,
    READ_USERS,
    WRITE_APPS,
    WRITE_APPS_APPLICATION,
    need,
    need_app_write,
)
from services.sandbox.clock import iso
from services.sandbox.http import GraphHttpError, Request, Response
from services.sandbox.tenant import (
    APP_ADMIN,
    CLOUD_APP_ADMIN,
    GLOBAL_ADMIN,
    SECURITY_ADMIN,
    Application,
    ServicePrincipal,
    Tenant,
)

from .objects import not_found

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox
    from services.sandbox.host import SandboxHost

APP_PROPS = ("id", "appId", "displayName", "createdDateTime", "signInAudience", "deletedDateTime")
SP_PROPS = (
    "id",
    "appId",
    "displayName",
    "appOwnerOrganizationId",
    "accountEnabled",
    "servicePrincipalType",
    "tags",
    "deletedDateTime",
)


def app_json(app: Application) -> dict[str, Any]:
    return {
        "id": app.id,
        "appId": app.app_id,
        "displayName": app.display_name,
        "createdDateTime": app.created,
        "signInAudience": "AzureADMyOrg",
        "deletedDateTime": app.deleted_at,
    }


def sp_json(sp: ServicePrincipal) -> dict[str, Any]:
    return {
        "deletedDateTime": sp.deleted_at,
        "id": sp.id,
        "appId": sp.app_id,
        "displayName": sp.display_name,
        "appOwnerOrganizationId": sp.app_owner_organization_id,
        "accountEnabled": sp.account_enabled,
        "servicePrincipalType": "Application",
        "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
    }


WRITE_APP_ROLES = (CLOUD_APP_ADMIN, APP_ADMIN, SECURITY_ADMIN, GLOBAL_ADMIN)
"""The roles a signed-in admin needs to delete or turn off any app or service principal
(APPDEL, SPDEL: rbac-application-apis-write). The list's Application Developer and members act
on the apps they own only (:func:`~services.sandbox.authz.need_app_write`), Directory Writers
and Hybrid Identity Administrators update some properties only, which deleting is not."""


def list_apps(sb: Sandbox, req: Request) -> Response:
    t = sb.tenant
    need(req, t, delegated=READ_APPS, application=READ_APPS)
    odata.reject_unsupported(req)
    top = odata.page_size(req)
    count = odata.wants_count(req)
    items, nxt = t.applications.page(odata.decode_skiptoken(req, "apps"), top)
    values = [odata.project(app_json(a), req, "application", APP_PROPS) for a in items]
    return Response(
        body=odata.collection_body(
            sb.base_url,
            req,
            "applications",
            values,
            nxt,
            "apps",
            len(t.applications) if count else None,
        )
    )


def get_app(sb: Sandbox, req: Request) -> Response:
    need(req, sb.tenant, delegated=READ_APPS, application=READ_APPS)
    app = sb.tenant.applications.get(req.params["id"])
    if app is None:
        raise not_found(req.params["id"])
    return Response(body=odata.project(app_json(app), req, "application", APP_PROPS))


def count_apps(sb: Sandbox, req: Request) -> Response:
    need(req, sb.tenant, delegated=READ_APPS, application=READ_APPS)
    odata.require_eventual_for_count(req)
    return Response(body=str(len(sb.tenant.applications)), content_type="text/plain")


def may_write(req: Request, tenant: Tenant, obj: Application | ServicePrincipal | None) -> None:
    """Raise unless the caller may change or delete ``obj``; 404 when it does not exist, to a
    caller who could act on any app (an object that is not there has no owners)."""
    if obj is None:
        need(
            req,
            tenant,
            delegated=WRITE_APPS,
            application=WRITE_APPS_APPLICATION,
            roles=WRITE_APP_ROLES,
        )
        raise not_found(req.params["id"])
    need_app_write(req, tenant, obj.owners, roles=WRITE_APP_ROLES)


def delete_app(sb: Sandbox, req: Request) -> Response:
    may_write(req, sb.tenant, sb.tenant.applications.get(req.params["id"]))
    delete_application(sb, req.params["id"])
    return Response(status=204)


def list_app_owners(sb: Sandbox, req: Request) -> Response:
    """``GET /applications/{id}/owners``: users and service principals, as directoryObjects.

    Read under Application.Read.All (application-list-owners); an owner of a type the caller
    may not read comes back with its id and type only, the rest null ("Limited information
    returned for inaccessible member objects")."""
    t = sb.tenant
    need(req, t, delegated=READ_APPS, application=(*READ_APPS, "Application.ReadWrite.OwnedBy"))
    app = t.applications.get(req.params["id"])
    if app is None:
        raise not_found(req.params["id"])
    reads_users = req.principal is not None and req.principal.has_permission(READ_USERS)
    values: list[dict[str, Any]] = []
    for owner in app.owners:
        user = t.users.get(owner)
        sp = t.service_principals.get(owner)
        if user is not None:
            body = user.to_graph(sb.clock.now())
            if not reads_users:
                body = {k: (v if k == "id" else None) for k, v in body.items()}
            values.append({"@odata.type": "#microsoft.graph.user", **body})
        elif sp is not None:
            values.append({"@odata.type": "#microsoft.graph.servicePrincipal", **sp_json(sp)})
    return Response(
        body=odata.collection_body(sb.base_url, req, "directoryObjects", values, None, "owners")
    )


def delete_application(sb: SandboxHost, app_id: str) -> Application:
    """Soft-delete an app registration and, in its home tenant, its service principal."""
    t = sb.tenant
    app = t.applications.remove(app_id)
    if app is None:
        raise not_found(app_id)
    app.deleted_at = iso(sb.clock.now_dt())
    t.deleted_applications.add(app.id, app)
    # Deleting an app registration also deletes its service principal in the home tenant.
    for sp in t.service_principals.values():
        if sp.app_id == app.app_id and sp.app_owner_organization_id == t.org.id:
            retire_service_principal(sb, sp)
    sb.tokens.app_removed(app.app_id)
    sb.recorder.event(sb.clock.now(), "application-deleted", id=app.id, app_id=app.app_id)
    return app


def retire_service_principal(sb: SandboxHost, sp: ServicePrincipal) -> None:
    """Take a service principal out of the tenant: into the recycle bin, or gone for good."""
    t = sb.tenant
    t.service_principals.remove(sp.id)
    if sb.config.sp_soft_delete:
        sp.deleted_at = iso(sb.clock.now_dt())
        t.deleted_service_principals.add(sp.id, sp)
    sb.tokens.app_removed(sp.app_id)
    sb.recorder.event(
        sb.clock.now(),
        "service-principal-deleted",
        id=sp.id,
        app_id=sp.app_id,
        microsoft=sp.is_microsoft,
    )


def list_sps(sb: Sandbox, req: Request) -> Response:
    t = sb.tenant
    need(req, t, delegated=READ_APPS, application=READ_APPS)
    odata.reject_unsupported(req)
    top = odata.page_size(req)
    items, nxt = t.service_principals.page(odata.decode_skiptoken(req, "sps"), top)
    values = [odata.project(sp_json(s), req, "servicePrincipal", SP_PROPS) for s in items]
    return Response(
        body=odata.collection_body(sb.base_url, req, "servicePrincipals", values, nxt, "sps")
    )


def _sp_or_404(tenant: Tenant, key: str) -> ServicePrincipal:
    sp = tenant.service_principals.get(key)
    if sp is None:
        raise not_found(key)
    return sp


def get_sp(sb: Sandbox, req: Request) -> Response:
    need(req, sb.tenant, delegated=READ_APPS, application=READ_APPS)
    sp = _sp_or_404(sb.tenant, req.params["id"])
    return Response(body=odata.project(sp_json(sp), req, "servicePrincipal", SP_PROPS))


def delete_sp(sb: Sandbox, req: Request) -> Response:
    t = sb.tenant
    may_write(req, t, t.service_principals.get(req.params["id"]))
    sp = _sp_or_404(t, req.params["id"])
    if sp.delete_behaviour == "refuse" or (
        sp.delete_behaviour == "dependency" and sp.failed_attempts < 1
    ):
        sp.failed_attempts += 1
        raise GraphHttpError(
            400,
            "Request_BadRequest",
            "The service principal can't be deleted because other objects depend on it."
            if sp.delete_behaviour == "dependency"
            else "The service principal can't be deleted: it is used by a Microsoft service.",
        )
    retire_service_principal(sb, sp)
    return Response(status=204)


def patch_sp(sb: Sandbox, req: Request) -> Response:
    found = sb.tenant.service_principals.get(req.params["id"])
    if sb.config.sp_disable_roles == "ga-only" and found is not None:
        # SPUPD names no role: the strictest reading (the sp-disable switch).
        need_app_write(req, sb.tenant, [], roles=(GLOBAL_ADMIN,))
    else:
        may_write(req, sb.tenant, found)
    sp = _sp_or_404(sb.tenant, req.params["id"])
    body = odata.update_body(req, "servicePrincipal")
    if set(body) != {"accountEnabled"} or not isinstance(body["accountEnabled"], bool):
        raise GraphHttpError(400, "Request_BadRequest", "Only accountEnabled can be changed here.")
    sp.account_enabled = body["accountEnabled"]
    sb.recorder.event(
        sb.clock.now(), "service-principal-updated", id=sp.id, enabled=sp.account_enabled
    )
    return Response(status=204)
